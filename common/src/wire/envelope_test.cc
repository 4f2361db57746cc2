#include "moat/common/wire/envelope.h"

#include <gtest/gtest.h>

namespace moat::wire {
namespace {

TEST(Envelope, RequestRoundTrips) {
  Envelope request{"session.create", "abc123", std::nullopt, Json{{"x", 1}}, std::nullopt};
  std::string text = EncodeEnvelope(request);
  EXPECT_EQ(text, R"({"body":{"x":1},"id":"abc123","type":"session.create","v":1})");
  auto decoded = DecodeEnvelope(text);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(*decoded, request);
}

TEST(Envelope, ReplyAndErrorReplyRoundTrip) {
  Envelope request{"session.action", "req-1", std::nullopt, Json::object(), std::nullopt};
  Envelope reply = MakeReply(request, Json{{"state", "suspended"}});
  EXPECT_EQ(reply.re, "req-1");
  EXPECT_EQ(reply.type, "session.action");
  EXPECT_NE(reply.id, request.id);
  auto decoded = DecodeEnvelope(EncodeEnvelope(reply));
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(*decoded, reply);

  Envelope error = MakeErrorReply(request, "not_found", "no session 's9'");
  std::string text = EncodeEnvelope(error);
  EXPECT_EQ(text.find("\"body\""), std::string::npos) << text;
  auto decoded_error = DecodeEnvelope(text);
  ASSERT_TRUE(decoded_error) << decoded_error.error().message();
  EXPECT_EQ(*decoded_error, error);
  EXPECT_EQ(decoded_error->error->message, "no session 's9'");
}

TEST(Envelope, MessageIdsAreFreshHex) {
  std::string a = NewMessageId(), b = NewMessageId();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST(Envelope, InvalidUtf8IsReplacedNotThrown) {
  Envelope message{"log.line", "i1", std::nullopt, Json{{"user", "bad\xff"}}, std::nullopt};
  std::string text = EncodeEnvelope(message);
  auto decoded = DecodeEnvelope(text);
  ASSERT_TRUE(decoded) << decoded.error().message();
  EXPECT_EQ(decoded->body["user"], "bad\xEF\xBF\xBD");
}

TEST(Envelope, UnknownVersionIsProtocolNotSupported) {
  auto decoded = DecodeEnvelope(R"({"v":2,"type":"x","id":"1","body":{},"future":true})");
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code(), std::make_error_code(std::errc::protocol_not_supported));
  EXPECT_EQ(decoded.error().message(),
            "decode agent-link message: protocol version 2 is not supported; this side speaks 1");
}

TEST(Envelope, OversizedMessageIsRefusedBeforeParsing) {
  std::string huge(kMaxMessageBytes + 1, ' ');
  auto decoded = DecodeEnvelope(huge);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code(), std::make_error_code(std::errc::message_size));
}

struct Malformed {
  const char* text;
  const char* error;  // expected message after "decode agent-link message: "
};

class EnvelopeMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(EnvelopeMalformed, IsRejectedWithClearError) {
  auto decoded = DecodeEnvelope(GetParam().text);
  ASSERT_FALSE(decoded) << GetParam().text;
  EXPECT_EQ(decoded.error().message(),
            std::string("decode agent-link message: ") + GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Table, EnvelopeMalformed,
    ::testing::Values(
        Malformed{R"([1,2])", "'message' must be an object"},
        Malformed{R"({"type":"x","id":"1","body":{}})", "missing 'v' (protocol version)"},
        Malformed{R"({"v":"1","type":"x","id":"1","body":{}})", "'v' must be an integer"},
        Malformed{R"({"v":1.0,"type":"x","id":"1","body":{}})", "'v' must be an integer"},
        Malformed{R"({"v":0,"type":"x","id":"1","body":{}})",
                  "protocol version 0 is not supported; this side speaks 1"},
        Malformed{R"({"v":1,"type":"x","id":"1","body":{},"extra":1})", "unknown key 'extra'"},
        Malformed{R"({"v":1,"id":"1","body":{}})", "missing 'type'"},
        Malformed{R"({"v":1,"type":7,"id":"1","body":{}})", "'type' must be a string"},
        Malformed{R"({"v":1,"type":"Session.Create","id":"1","body":{}})",
                  "'type' must match [a-z][a-z0-9_.]{0,63}"},
        Malformed{R"({"v":1,"type":"","id":"1","body":{}})",
                  "'type' must match [a-z][a-z0-9_.]{0,63}"},
        Malformed{R"({"v":1,"type":"x","body":{}})", "missing 'id'"},
        Malformed{R"({"v":1,"type":"x","id":5,"body":{}})", "'id' must be a string"},
        Malformed{R"({"v":1,"type":"x","id":"","body":{}})",
                  "'id' must be 1 to 128 printable ASCII characters"},
        Malformed{R"({"v":1,"type":"x","id":"a b","body":{}})",
                  "'id' must be 1 to 128 printable ASCII characters"},
        Malformed{R"({"v":1,"type":"x","id":"1"})", "missing 'body'"},
        Malformed{R"({"v":1,"type":"x","id":"1","body":[]})", "'body' must be an object"},
        Malformed{R"({"v":1,"type":"x","id":"1","body":null})", "'body' must be an object"},
        Malformed{R"({"v":1,"type":"x","id":"1","re":1,"body":{}})", "'re' must be a string"},
        Malformed{R"({"v":1,"type":"x","id":"1","error":{"code":"e","message":"m"}})",
                  "'error' is only allowed on a reply ('re')"},
        Malformed{R"({"v":1,"type":"x","id":"1","re":"0","error":"boom"})",
                  "'error' must be an object"},
        Malformed{R"({"v":1,"type":"x","id":"1","re":"0","error":{"message":"m"}})",
                  "missing 'error.code'"},
        Malformed{R"({"v":1,"type":"x","id":"1","re":"0","error":{"code":"","message":"m"}})",
                  "'error.code' must not be empty"},
        Malformed{
            R"({"v":1,"type":"x","id":"1","re":"0","error":{"code":"e","message":"m","x":1}})",
            "unknown key 'error.x'"}));

TEST(Envelope, DuplicateKeysAreRefusedAtAnyDepth) {
  for (const char* text : {R"({"v":1,"v":2,"type":"x","id":"1","body":{}})",
                           R"({"v":1,"type":"x","id":"1","body":{"a":[{"k":1,"k":2}]}})"}) {
    auto decoded = DecodeEnvelope(text);
    ASSERT_FALSE(decoded) << text;
    EXPECT_NE(decoded.error().message().find("duplicate key"), std::string::npos)
        << decoded.error().message();
  }
  // The same key in sibling objects is fine.
  EXPECT_TRUE(DecodeEnvelope(R"({"v":1,"type":"x","id":"1","body":{"a":[{"k":1},{"k":2}]}})"));
}

TEST(Envelope, SyntaxErrorSaysMalformedJson) {
  for (const char* text : {"", "{", "{\"v\":1,}", "nul"}) {
    auto decoded = DecodeEnvelope(text);
    ASSERT_FALSE(decoded) << text;
    EXPECT_EQ(decoded.error().message().rfind("decode agent-link message: malformed JSON", 0), 0u)
        << decoded.error().message();
  }
}

}  // namespace
}  // namespace moat::wire
