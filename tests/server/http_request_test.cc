// The request-head parser on its own: complete and partial heads, limits, and the
// malformed inputs a server must refuse.
#include "server/http_request.h"

#include <gtest/gtest.h>

#include <string>

namespace ktls::server {
namespace {

ParseResult Parse(std::string_view text, RequestLimits limits = {}) {
  return ParseRequest(text, limits);
}

int ErrorOf(std::string_view text, RequestLimits limits = {}) {
  const ParseResult result = Parse(text, limits);
  EXPECT_EQ(result.status, ParseStatus::kError) << text;
  return result.error_status;
}

TEST(HttpRequestTest, ParsesASimpleGet) {
  const std::string text = "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\nNEXT";
  const ParseResult result = Parse(text);
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, text.size() - 4);
  EXPECT_EQ(result.request.method, "GET");
  EXPECT_EQ(result.request.target, "/index.html");
  EXPECT_EQ(result.request.version_minor, 1);
  EXPECT_EQ(result.request.host, "example.com");
  EXPECT_TRUE(result.request.keep_alive);
  EXPECT_FALSE(result.request.has_body());
  EXPECT_FALSE(result.request.range.has_value());
}

TEST(HttpRequestTest, IncompleteUntilTheEmptyLine) {
  const std::string text = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  for (size_t n = 0; n < text.size(); ++n) {
    EXPECT_EQ(Parse(text.substr(0, n)).status, ParseStatus::kIncomplete) << n;
  }
  EXPECT_EQ(Parse(text).status, ParseStatus::kComplete);
}

TEST(HttpRequestTest, AcceptsBareLineFeedsAndLeadingEmptyLines) {
  const ParseResult result = Parse("\r\n\nHEAD /a HTTP/1.1\nHost: a\n\n");
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  EXPECT_EQ(result.request.method, "HEAD");
  EXPECT_EQ(result.consumed, 29u);
}

TEST(HttpRequestTest, FieldNamesAreCaseInsensitiveAndValuesTrimmed) {
  const ParseResult result = Parse(
      "GET / HTTP/1.1\r\nhOsT:   h  \r\nRANGE: bytes=0-1\r\nif-range:\tx\r\n"
      "If-Modified-Since: y\r\n\r\n");
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  EXPECT_EQ(result.request.host, "h");
  EXPECT_EQ(result.request.range.value_or(""), "bytes=0-1");
  EXPECT_EQ(result.request.if_range.value_or(""), "x");
  EXPECT_EQ(result.request.if_modified_since.value_or(""), "y");
}

TEST(HttpRequestTest, ConnectionSemantics) {
  EXPECT_FALSE(Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(Parse("GET / HTTP/1.0\r\n\r\n").request.keep_alive);
  EXPECT_TRUE(Parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(Parse("GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n").request.keep_alive);
  EXPECT_FALSE(
      Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade, close\r\n\r\n").request.keep_alive);
}

TEST(HttpRequestTest, Http10NeedsNoHost) {
  const ParseResult result = Parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  EXPECT_EQ(result.request.version_minor, 0);
}

TEST(HttpRequestTest, BodiesAreRecognized) {
  const ParseResult length = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n");
  ASSERT_EQ(length.status, ParseStatus::kComplete);
  EXPECT_EQ(length.request.content_length, 5u);
  EXPECT_TRUE(length.request.has_body());
  const ParseResult chunked =
      Parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_EQ(chunked.status, ParseStatus::kComplete);
  EXPECT_TRUE(chunked.request.has_body());
  // Repeated identical lengths are one length (RFC 9110 §8.6).
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 0\r\n\r\n").status,
            ParseStatus::kComplete);
}

TEST(HttpRequestTest, RefusesMalformedRequestLines) {
  EXPECT_EQ(ErrorOf("GET /\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.x\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / http/1.1\r\nHost: a\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET /\rx HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

TEST(HttpRequestTest, RefusesOtherVersions) {
  EXPECT_EQ(ErrorOf("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505);
  EXPECT_EQ(ErrorOf("GET / HTTP/0.9\r\n\r\n"), 505);
}

TEST(HttpRequestTest, RefusesMalformedFields) {
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400);            // space before colon
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"), 400);  // obs-fold
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n"), 400);
  constexpr char kNul[] = "GET / HTTP/1.1\r\nHost: a\r\nX: a\0z\r\n\r\n";
  EXPECT_EQ(ErrorOf(std::string_view(kNul, sizeof(kNul) - 1)), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: a\r\nX: a\rz\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n"), 400);
}

TEST(HttpRequestTest, HostRules) {
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
}

TEST(HttpRequestTest, RefusesAmbiguousBodies) {
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
            400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

TEST(HttpRequestTest, OversizeHeadsAre431) {
  RequestLimits limits;
  limits.max_header_bytes = 64;
  // Without an end in sight, more than the limit is already too much.
  EXPECT_EQ(Parse(std::string(64, 'a'), limits).status, ParseStatus::kIncomplete);
  EXPECT_EQ(ErrorOf(std::string(65, 'a'), limits), 431);
  // A complete head over the limit, too.
  const std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(40, 'x') + "\r\n\r\n";
  EXPECT_EQ(ErrorOf(big, limits), 431);
  // The default limit is 8 KiB.
  const std::string huge =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(9000, 'x') + "\r\n\r\n";
  EXPECT_EQ(ErrorOf(huge), 431);
}

TEST(HttpRequestTest, TooManyFieldsAre431) {
  RequestLimits limits;
  limits.max_fields = 3;
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits).status,
            ParseStatus::kComplete);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits), 431);
}

TEST(HttpRequestTest, PipelinedRequestsParseOneAtATime) {
  std::string text =
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  ParseResult first = Parse(text);
  ASSERT_EQ(first.status, ParseStatus::kComplete);
  EXPECT_EQ(first.request.target, "/a");
  text.erase(0, first.consumed);
  ParseResult second = Parse(text);
  ASSERT_EQ(second.status, ParseStatus::kComplete);
  EXPECT_EQ(second.request.target, "/b");
  EXPECT_FALSE(second.request.keep_alive);
  EXPECT_EQ(second.consumed, text.size());
}

// Every prefix and every single-byte corruption of a valid head parses without
// crashing and never consumes more than it was given.
TEST(HttpRequestTest, SurvivesCorruption) {
  const std::string valid =
      "GET /p?q=1 HTTP/1.1\r\nHost: h\r\nRange: bytes=1-2\r\nContent-Length: 0\r\n\r\n";
  for (size_t i = 0; i < valid.size(); ++i) {
    for (int c : {0, int{'\r'}, int{'\n'}, int{' '}, int{':'}, 0x7f, 0xff}) {
      std::string text = valid;
      text[i] = static_cast<char>(c);
      const ParseResult result = Parse(text);
      EXPECT_LE(result.consumed, text.size());
    }
  }
}

}  // namespace
}  // namespace ktls::server
