// A fixed set of connections to one session database, handed out one per request. SQLite
// transactions belong to a connection, so two threads must never share one; the pool makes that
// the default instead of a rule to remember.
#pragma once

#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <vector>

#include "db/database.h"

namespace moat::broker::db {

class ConnectionPool {
 public:
  // Opens `size` connections (the first one migrates the schema).
  static Result<std::unique_ptr<ConnectionPool>> Open(const std::filesystem::path& path, int size);

  // A connection for the lease's lifetime; returned to the pool when the lease goes.
  class Lease {
   public:
    Lease(ConnectionPool& pool, Database* db) : pool_(&pool), db_(db) {}
    Lease(Lease&& other) noexcept : pool_(other.pool_), db_(std::exchange(other.db_, nullptr)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (db_) pool_->Return(db_);
    }
    const Database& operator*() const { return *db_; }
    const Database* operator->() const { return db_; }

   private:
    ConnectionPool* pool_;
    Database* db_;
  };

  // Waits for a free connection.
  Lease Acquire();
  const std::filesystem::path& path() const { return path_; }

 private:
  explicit ConnectionPool(std::filesystem::path path) : path_(std::move(path)) {}
  void Return(Database* db);

  std::filesystem::path path_;
  std::vector<std::unique_ptr<Database>> all_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<Database*> free_;
};

}  // namespace moat::broker::db
