#include <gtest/gtest.h>

#include "api/api.h"

namespace moat::broker::api {
namespace {

// Text from the database (a SQL cell, a process name, a display name) need not be UTF-8; the
// answer must still be JSON, never an exception that ends as a bare 500.
TEST(ApiJson, TextThatIsNotUtf8IsReplacedNotThrown) {
  wire::Json body{{"rows",
                   {{std::string("a\xff"
                                 "b")}}},
                  {"ok", "fine"}};
  http::HttpResponse response;
  ASSERT_NO_THROW(response = Json(200, body));
  EXPECT_EQ(response.status, 200);
  wire::Json back = wire::Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(back.is_discarded()) << response.body;
  EXPECT_EQ(back["rows"][0][0],
            "a\xEF\xBF\xBD"
            "b");  // U+FFFD REPLACEMENT CHARACTER
  EXPECT_EQ(back["ok"], "fine");
}

}  // namespace
}  // namespace moat::broker::api
