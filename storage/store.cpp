#include "storage/store.h"

#include <spdlog/spdlog.h>

#include "storage/sqlite_store.h"

namespace ipctrail {

Store::Store(StoreOptions options)
    : options_(std::move(options)), impl_(std::make_unique<SqliteStore>(options_)) {}
Store::~Store() = default;
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;

void Store::write_tick(const TickRecord& tick) {
  if (impl_ && !impl_->still_at_path()) {
    // Writing on would fill an unlinked inode that nobody can read, and lose it all at exit.
    spdlog::warn(
        "{} was deleted or replaced while the agent was writing it; starting a new history file "
        "there",
        options_.path.string());
    impl_->keep_files_beside_on_close();
    impl_.reset();  // closes and unlocks the old file before the new one is locked
  }
  if (!impl_) impl_ = std::make_unique<SqliteStore>(options_);
  impl_->write_tick(tick);
}

const std::filesystem::path& Store::path() const {
  return options_.path;
}

}  // namespace ipctrail
