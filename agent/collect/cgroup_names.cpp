#include "agent/collect/cgroup_names.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "agent/collect/proc_file.h"

namespace ipctrail {

namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> fields;
  for (;;) {
    std::size_t end = text.find(separator);
    fields.push_back(text.substr(0, end));
    if (end == std::string_view::npos) return fields;
    text.remove_prefix(end + 1);
  }
}

// mountinfo writes space, tab, newline and backslash in paths as \ and three octal digits.
std::string unescape_mountinfo(std::string_view field) {
  std::string text;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() &&
        std::all_of(field.begin() + i + 1, field.begin() + i + 4,
                    [](char c) { return c >= '0' && c <= '7'; })) {
      text.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                                       (field[i + 3] - '0')));
      i += 3;
    } else {
      text.push_back(field[i]);
    }
  }
  return text;
}

std::string join_cgroup_path(const std::string& root, std::string_view relative) {
  if (relative.empty()) return root;
  std::string path = root;
  if (path.back() != '/') path.push_back('/');
  path += relative;
  return path;
}

}  // namespace

std::optional<Cgroup2Mount> cgroup2_mount_in(std::string_view mountinfo) {
  std::optional<Cgroup2Mount> first;
  for (std::string_view line : split(mountinfo, '\n')) {
    // id parent major:minor root mount-point options [optional...] - type source super-options
    std::vector<std::string_view> fields = split(line, ' ');
    auto separator = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 6 || separator == fields.end() || separator - fields.begin() < 6 ||
        fields.end() - separator < 2 || separator[1] != "cgroup2") {
      continue;
    }
    Cgroup2Mount mount{unescape_mountinfo(fields[4]), unescape_mountinfo(fields[3])};
    if (mount.root == "/") return mount;
    if (!first) first = mount;
  }
  return first;
}

std::optional<std::string> cgroup_path_in(std::string_view proc_pid_cgroup) {
  std::optional<std::string> unified;
  std::optional<std::string> named_systemd;
  for (std::string_view line : split(proc_pid_cgroup, '\n')) {
    // hierarchy-id:controllers:path; the path may itself hold colons.
    std::size_t first = line.find(':');
    if (first == std::string_view::npos) continue;
    std::size_t second = line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    std::string_view hierarchy = line.substr(0, first);
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    std::string_view path = line.substr(second + 1);
    if (hierarchy == "0" && controllers.empty()) unified = path;
    if (controllers == "name=systemd") named_systemd = path;
  }
  if (named_systemd && *named_systemd != "/") return named_systemd;
  return unified ? unified : named_systemd;
}

std::optional<std::string> cgroup_path_of_process(pid_t pid) {
  ProcFile file;
  ProcFile::Result result = file.read("/proc/" + std::to_string(pid) + "/cgroup");
  if (result.error != 0) return std::nullopt;
  return cgroup_path_in(result.text);
}

CgroupNames::CgroupNames(CgroupNamesOptions options) : options_(options) {}

CgroupName CgroupNames::resolve(std::uint64_t cgroup_id) {
  if (auto found = names_.find(cgroup_id); found != names_.end()) return known(found->second);
  std::string id_text = "cgroup " + std::to_string(cgroup_id);
  if (gone_.contains(cgroup_id)) return {CgroupName::State::kGone, {}, {}, id_text + " (gone)"};

  auto now = std::chrono::steady_clock::now();
  if (last_walk_at_ && now - *last_walk_at_ < options_.min_rescan_interval) {
    return {CgroupName::State::kUnknown, {}, {}, id_text};
  }
  last_walk_at_ = now;
  bool complete = walk(cgroup_id);
  if (auto found = names_.find(cgroup_id); found != names_.end()) return known(found->second);
  if (!complete) return {CgroupName::State::kUnknown, {}, {}, id_text};
  remember_gone(cgroup_id);
  return {CgroupName::State::kGone, {}, {}, id_text + " (gone)"};
}

CgroupName CgroupNames::known(const Entry& entry) const {
  return {CgroupName::State::kKnown, entry.path, entry.owner, entry.owner.name};
}

bool CgroupNames::walk(std::uint64_t wanted) {
  ++walks_;
  ProcFile mountinfo;
  ProcFile::Result read = mountinfo.read("/proc/self/mountinfo");
  std::optional<Cgroup2Mount> mount;
  if (read.error == 0) mount = cgroup2_mount_in(read.text);
  int root_fd = mount ? ::open(mount->mount_point.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  if (root_fd < 0) {
    if (!reported_unavailable_) {
      reported_unavailable_ = true;
      spdlog::warn("cgroup names: {}; processes are named by cgroup id only",
                   mount ? "cannot open " + mount->mount_point + ": " + std::strerror(errno)
                         : std::string("no cgroup2 mount in /proc/self/mountinfo"));
    }
    return false;
  }

  // Only a walk of the whole hierarchy can tell that an id is gone.
  bool complete = mount->root == "/";
  std::unordered_map<std::uint64_t, Entry> seen;
  auto record = [&](std::uint64_t id, std::string path) {
    if (seen.size() >= options_.max_names) {
      if (id != wanted) return;
      seen.erase(seen.begin());
    }
    Entry entry{std::move(path), {}, walks_};
    auto old = names_.find(id);
    entry.owner = old != names_.end() && old->second.path == entry.path
                      ? old->second.owner
                      : classify_cgroup_path(entry.path);
    seen.insert_or_assign(id, std::move(entry));
  };

  struct stat root_stat {};
  if (::fstat(root_fd, &root_stat) == 0) record(root_stat.st_ino, mount->root);
  // Breadth first, by path relative to the mount: one directory open at a time at any depth.
  std::deque<std::string> pending{""};
  std::size_t visited = 0;
  while (!pending.empty()) {
    ++visited;
    std::string relative = std::move(pending.front());
    pending.pop_front();
    int fd = relative.empty() ? ::dup(root_fd)
                              : ::openat(root_fd, relative.c_str(),
                                         O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    DIR* directory = fd >= 0 ? ::fdopendir(fd) : nullptr;
    if (directory == nullptr) {
      // Removed since its parent was listed: it is not in the tree. Anything else hides a part.
      if (errno != ENOENT) complete = false;
      if (fd >= 0) ::close(fd);
      continue;
    }
    while (const dirent* child = ::readdir(directory)) {
      std::string_view name = child->d_name;
      if (name == "." || name == "..") continue;
      ino_t inode = child->d_ino;
      if (child->d_type == DT_UNKNOWN) {
        struct stat child_stat {};
        if (::fstatat(::dirfd(directory), child->d_name, &child_stat, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(child_stat.st_mode)) {
          continue;
        }
        inode = child_stat.st_ino;
      } else if (child->d_type != DT_DIR) {
        continue;
      }
      std::string child_relative =
          relative.empty() ? std::string(name) : relative + "/" + std::string(name);
      record(inode, join_cgroup_path(mount->root, child_relative));
      // At most max_walk directories are opened, so no more than that wait to be.
      if (visited + pending.size() < options_.max_walk) {
        pending.push_back(std::move(child_relative));
      } else {
        complete = false;
      }
    }
    ::closedir(directory);
  }
  ::close(root_fd);

  // Names of cgroups removed since an earlier walk stay right (ids are not reused): keep the most
  // recently seen of them in the room left.
  std::vector<std::pair<std::uint64_t, Entry*>> removed;
  for (auto& [id, entry] : names_) {
    if (!seen.contains(id)) removed.emplace_back(id, &entry);
  }
  std::sort(removed.begin(), removed.end(),
            [](const auto& a, const auto& b) { return a.second->last_walk > b.second->last_walk; });
  for (auto& [id, entry] : removed) {
    if (seen.size() >= options_.max_names) break;
    seen.emplace(id, std::move(*entry));
  }
  names_ = std::move(seen);
  return complete;
}

void CgroupNames::remember_gone(std::uint64_t cgroup_id) {
  if (options_.max_gone == 0) return;
  if (gone_order_.size() == options_.max_gone) {
    gone_.erase(gone_order_.front());
    gone_order_.pop_front();
  }
  gone_.insert(cgroup_id);
  gone_order_.push_back(cgroup_id);
}

}  // namespace ipctrail
