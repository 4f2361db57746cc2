#include "broker/desktop_tunnels.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <thread>

namespace moat::broker {
namespace {

namespace net = boost::asio;

// A stand-in stream: the tickets never touch its bytes.
class NullStream : public http::ByteStream {
 public:
  explicit NullStream(net::io_context& io) : io_(io) {}
  net::awaitable<Result<size_t>> ReadSome(net::mutable_buffer) override { co_return size_t{0}; }
  net::awaitable<Status> Write(net::const_buffer) override { co_return Status{}; }
  net::awaitable<void> Close(int, const std::string&) override { co_return; }
  void Abort() override {}
  net::any_io_executor executor() override { return io_.get_executor(); }
  std::string peer() const override { return "test"; }

 private:
  net::io_context& io_;
};

TEST(DesktopTunnels, ATicketIsForOneHostAndOneStream) {
  net::io_context io;
  DesktopTunnels tunnels;
  auto ticket = tunnels.NewTicket(7);
  ASSERT_TRUE(ticket) << ticket.error().message();
  EXPECT_EQ(ticket->size(), 64u);
  EXPECT_TRUE(tunnels.Expects(*ticket, 7));
  EXPECT_FALSE(tunnels.Expects(*ticket, 8)) << "another host's agent must not answer it";
  EXPECT_FALSE(tunnels.Expects("not-a-ticket", 7));
  EXPECT_FALSE(tunnels.Deliver(*ticket, 8, std::make_unique<NullStream>(io)));
  EXPECT_TRUE(tunnels.Deliver(*ticket, 7, std::make_unique<NullStream>(io)));
  EXPECT_FALSE(tunnels.Deliver(*ticket, 7, std::make_unique<NullStream>(io))) << "used twice";
  auto stream = tunnels.Await(*ticket, std::chrono::milliseconds(0));
  ASSERT_TRUE(stream);
  EXPECT_EQ((*stream)->peer(), "test");
  EXPECT_FALSE(tunnels.Expects(*ticket, 7)) << "a ticket lives until it is taken";
}

TEST(DesktopTunnels, AwaitWaitsForTheAgentAndTimesOut) {
  net::io_context io;
  DesktopTunnels tunnels;
  auto ticket = tunnels.NewTicket(1);
  ASSERT_TRUE(ticket);
  std::thread agent([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    tunnels.Deliver(*ticket, 1, std::make_unique<NullStream>(io));
  });
  EXPECT_TRUE(tunnels.Await(*ticket, std::chrono::seconds(5)));
  agent.join();

  auto late = tunnels.NewTicket(1);
  ASSERT_TRUE(late);
  auto timed_out = tunnels.Await(*late, std::chrono::milliseconds(20));
  ASSERT_FALSE(timed_out);
  EXPECT_EQ(timed_out.error().code(), std::errc::timed_out);
  EXPECT_FALSE(tunnels.Deliver(*late, 1, std::make_unique<NullStream>(io)))
      << "a stream after the timeout finds no one waiting";
}

}  // namespace
}  // namespace moat::broker
