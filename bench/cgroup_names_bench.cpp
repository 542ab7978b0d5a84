// The cost of naming cgroups (docs/design.md §7) on the real cgroup2 hierarchy: a walk of a tree
// with 1,000 cgroups made for the purpose (beside whatever the host has), 10,000 lookups of known
// ids, 10,000 of ids known to be gone, and the classification of a path alone. Runs as root;
// removes its cgroups at the end.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "agent/collect/cgroup_names.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSlices = 10;
constexpr int kScopesPerSlice = 100;
constexpr int kLookups = 10000;
constexpr int kWalks = 21;

double microseconds(Clock::duration duration) {
  return std::chrono::duration<double, std::micro>(duration).count();
}

void fail(const std::string& what) {
  std::cerr << "cgroup_names_bench: " << what << ": " << std::strerror(errno) << '\n';
  std::exit(1);
}

std::string hex_id(int n) {
  std::ostringstream id;
  id << std::hex << std::setfill('0');
  for (int i = 0; i < 8; ++i) id << std::setw(8) << (0x9e3779b9u * static_cast<unsigned>(n + i));
  return id.str();
}

}  // namespace

int main() {
  std::ifstream file("/proc/self/mountinfo");
  std::stringstream mountinfo;
  mountinfo << file.rdbuf();
  std::optional<ipctrail::Cgroup2Mount> mount = ipctrail::cgroup2_mount_in(mountinfo.str());
  if (!mount) fail("no cgroup2 mount");
  std::string top = mount->mount_point + "/ipctrail-bench-" + std::to_string(::getpid());
  if (::mkdir(top.c_str(), 0755) != 0) fail("mkdir " + top + " (run as root)");

  std::vector<std::string> directories;
  std::vector<std::uint64_t> ids;
  for (int slice = 0; slice < kSlices; ++slice) {
    std::string slice_directory = top + "/bench-" + std::to_string(slice) + ".slice";
    if (::mkdir(slice_directory.c_str(), 0755) != 0) fail("mkdir " + slice_directory);
    directories.push_back(slice_directory);
    for (int scope = 0; scope < kScopesPerSlice - 1; ++scope) {
      std::string directory =
          slice_directory + "/docker-" + hex_id(slice * kScopesPerSlice + scope) + ".scope";
      if (::mkdir(directory.c_str(), 0755) != 0) fail("mkdir " + directory);
      directories.push_back(directory);
    }
  }
  for (const std::string& directory : directories) {
    struct stat status {};
    if (::stat(directory.c_str(), &status) != 0) fail("stat " + directory);
    ids.push_back(status.st_ino);
  }

  // Walks: each lookup of an id that does not exist walks the whole tree (no interval).
  ipctrail::CgroupNamesOptions options;
  options.min_rescan_interval = std::chrono::seconds(0);
  ipctrail::CgroupNames names(options);
  std::vector<double> walks;
  std::uint64_t missing = ~std::uint64_t{0};
  for (int i = 0; i < kWalks; ++i) {
    auto start = Clock::now();
    names.resolve(missing - static_cast<std::uint64_t>(i));
    walks.push_back(microseconds(Clock::now() - start));
  }
  std::sort(walks.begin(), walks.end());
  std::size_t held = names.names_held();

  std::mt19937 random(42);
  std::vector<std::uint64_t> order(kLookups);
  for (std::uint64_t& id : order) id = ids[random() % ids.size()];
  std::size_t known = 0;
  auto start = Clock::now();
  for (std::uint64_t id : order) {
    known += names.resolve(id).state == ipctrail::CgroupName::State::kKnown;
  }
  double known_us = microseconds(Clock::now() - start);

  start = Clock::now();
  std::size_t gone = 0;
  for (int i = 0; i < kLookups; ++i) {
    gone += names.resolve(missing - static_cast<std::uint64_t>(i % kWalks)).state ==
            ipctrail::CgroupName::State::kGone;
  }
  double gone_us = microseconds(Clock::now() - start);

  std::vector<std::string> paths;
  for (const std::string& directory : directories) {
    paths.push_back(directory.substr(mount->mount_point.size()));
  }
  start = Clock::now();
  std::size_t docker = 0;
  for (int i = 0; i < kLookups; ++i) {
    docker +=
        ipctrail::classify_cgroup_path(paths[static_cast<std::size_t>(i) % paths.size()]).kind ==
        ipctrail::CgroupOwnerKind::kDocker;
  }
  double classify_us = microseconds(Clock::now() - start);

  for (auto directory = directories.rbegin(); directory != directories.rend(); ++directory) {
    if (::rmdir(directory->c_str()) != 0) fail("rmdir " + *directory);
  }
  if (::rmdir(top.c_str()) != 0) fail("rmdir " + top);

  std::cout << "cgroup names, " << directories.size() << " test cgroups under "
            << mount->mount_point << " (" << held << " cgroups in the whole tree)\n"
            << "  walk of the tree:         median " << walks[walks.size() / 2] << " us, min "
            << walks.front() << " us, max " << walks.back() << " us (" << kWalks << " walks)\n"
            << "  " << kLookups << " lookups, known:   " << known_us << " us total, "
            << known_us * 1000 / kLookups << " ns each (" << known << " known)\n"
            << "  " << kLookups << " lookups, gone:    " << gone_us << " us total, "
            << gone_us * 1000 / kLookups << " ns each (" << gone << " gone)\n"
            << "  " << kLookups << " classifications: " << classify_us << " us total, "
            << classify_us * 1000 / kLookups << " ns each (" << docker << " docker)\n";
  if (known != static_cast<std::size_t>(kLookups) || gone != static_cast<std::size_t>(kLookups)) {
    std::cerr << "cgroup_names_bench: lookups did not resolve as expected\n";
    return 1;
  }
  return 0;
}
