#include "storage/store.h"

#include "storage/sqlite_store.h"

namespace ipctrail {

Store::Store(StoreOptions options) : impl_(std::make_unique<SqliteStore>(std::move(options))) {}
Store::~Store() = default;
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;

void Store::write_tick(const TickRecord& tick) {
  impl_->write_tick(tick);
}

const std::filesystem::path& Store::path() const {
  return impl_->path();
}

}  // namespace ipctrail
