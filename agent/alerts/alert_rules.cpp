#include "agent/alerts/alert_rules.h"

#include <stdexcept>
#include <utility>

#include "model/chart_table.h"

namespace ipctrail {

namespace {

std::optional<std::uint64_t> queue_count(const Sample& sample) {
  if (!sample.queues) return std::nullopt;
  return sample.queues->size();
}

bool each_queue_bytes(const Sample& sample, std::vector<Usage>& out) {
  if (!sample.queues) return false;
  for (const MessageQueue& queue : *sample.queues) {
    out.push_back({std::to_string(queue.msqid), queue.bytes, queue.capacity_bytes});
  }
  return true;
}

}  // namespace

const std::vector<AlertRule>& alert_rules() {
  static const std::vector<AlertRule> rules{
      {"semaphores_used", chart::kSemaphores.id, "semaphores", "semmns", false,
       [](const Sample& s, std::vector<Usage>& out) {
         out.push_back({"", s.semaphores, s.limits.semmns});
         return true;
       }},
      {"semaphore_arrays_used", chart::kSemaphoreArrays.id, "semaphore arrays", "semmni", false,
       [](const Sample& s, std::vector<Usage>& out) {
         out.push_back({"", s.semaphore_arrays, s.limits.semmni});
         return true;
       }},
      {"message_queues_used", chart::kQueueMessages.id, "message queues", "msgmni", false,
       [](const Sample& s, std::vector<Usage>& out) {
         out.push_back({"", queue_count(s), s.limits.msgmni});
         return true;
       }},
      {"shared_memory_segments_used", chart::kShmSegments.id, "shared memory segments", "shmmni",
       false,
       [](const Sample& s, std::vector<Usage>& out) {
         out.push_back({"", s.shm_segments, s.limits.shmmni});
         return true;
       }},
      {"shared_memory_bytes_used", chart::kShmBytes.id, "shared memory pages", "shmall", false,
       [](const Sample& s, std::vector<Usage>& out) {
         out.push_back({"", s.shm_pages, s.limits.shmall});
         return true;
       }},
      {"message_queue_bytes_used", chart::kQueueBytes.id, "bytes queued", "msg_qbytes", true,
       each_queue_bytes},
  };
  return rules;
}

const AlertRule& forecast_resource(std::string_view forecast_name) {
  static constexpr std::pair<std::string_view, std::string_view> kResources[] = {
      {"semaphores_exhaustion", "semaphores_used"},
      {"semaphore_arrays_exhaustion", "semaphore_arrays_used"},
      {"message_queues_exhaustion", "message_queues_used"},
      {"shared_memory_segments_exhaustion", "shared_memory_segments_used"},
      {"shared_memory_pages_exhaustion", "shared_memory_bytes_used"},
  };
  for (const auto& [forecast, usage] : kResources) {
    if (forecast != forecast_name) continue;
    for (const AlertRule& rule : alert_rules()) {
      if (rule.name == usage) return rule;
    }
  }
  throw std::out_of_range("not an exhaustion forecast: " + std::string(forecast_name));
}

}  // namespace ipctrail
