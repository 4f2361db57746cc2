#include "db/connection_pool.h"

namespace moat::broker::db {

Result<std::unique_ptr<ConnectionPool>> ConnectionPool::Open(const std::filesystem::path& path,
                                                             int size) {
  if (size < 1) return Fail(InvalidArgument("a connection pool needs at least one connection"));
  std::unique_ptr<ConnectionPool> pool(new ConnectionPool(path));
  for (int i = 0; i < size; ++i) {
    MOAT_TRY(Database db, Database::Open(path));
    pool->all_.push_back(std::make_unique<Database>(std::move(db)));
    pool->free_.push_back(pool->all_.back().get());
  }
  return pool;
}

ConnectionPool::Lease ConnectionPool::Acquire() {
  std::unique_lock lock(mutex_);
  available_.wait(lock, [this] { return !free_.empty(); });
  Database* db = free_.back();
  free_.pop_back();
  return Lease(*this, db);
}

void ConnectionPool::Return(Database* db) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(db);
  }
  available_.notify_one();
}

}  // namespace moat::broker::db
