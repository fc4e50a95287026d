// The response head parser the download client and the load generator share: what it
// takes from a head, and the heads it refuses rather than misread.
#include "bench/response_head.h"

#include <gtest/gtest.h>

namespace ktls::bench {
namespace {

TEST(ResponseHead, StatusLengthAndKeepAlive) {
  ResponseHead head;
  ASSERT_TRUE(ParseResponseHead("HTTP/1.1 200 OK\r\nServer: x\r\ncontent-length: 65536", &head));
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.content_length, 65536u);
  EXPECT_FALSE(head.close);
  EXPECT_FALSE(head.chunked);
}

TEST(ResponseHead, StatusLineWithoutReason) {
  ResponseHead head;
  ASSERT_TRUE(ParseResponseHead("HTTP/1.1 404", &head));
  EXPECT_EQ(head.status, 404);
  EXPECT_FALSE(head.content_length.has_value());
}

TEST(ResponseHead, ConnectionTokens) {
  ResponseHead head;
  ASSERT_TRUE(ParseResponseHead("HTTP/1.1 200 OK\r\nConnection: foo, Close", &head));
  EXPECT_TRUE(head.close);
  // HTTP/1.0 closes unless asked to keep the connection.
  ASSERT_TRUE(ParseResponseHead("HTTP/1.0 200 OK\r\nContent-Length: 1", &head));
  EXPECT_TRUE(head.close);
  ASSERT_TRUE(ParseResponseHead("HTTP/1.0 200 OK\r\nConnection: keep-alive", &head));
  EXPECT_FALSE(head.close);
}

TEST(ResponseHead, TransferEncodingIsChunked) {
  ResponseHead head;
  ASSERT_TRUE(ParseResponseHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", &head));
  EXPECT_TRUE(head.chunked);
}

TEST(ResponseHead, FieldsFromAnEarlierHeadDoNotCarryOver) {
  ResponseHead head;
  ASSERT_TRUE(
      ParseResponseHead("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close", &head));
  ASSERT_TRUE(ParseResponseHead("HTTP/1.1 204 No Content", &head));
  EXPECT_FALSE(head.content_length.has_value());
  EXPECT_FALSE(head.close);
}

TEST(ResponseHead, RefusesWhatItCannotReadSafely) {
  ResponseHead head;
  for (const char* bad :
       {"", "HTTP/2 200 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 20x OK", "HTTP/1.1  200 OK",
        "HTTP/1.1 200 OK\r\nno colon here", "HTTP/1.1 200 OK\r\nContent-Length: -1",
        "HTTP/1.1 200 OK\r\nContent-Length: 12abc", "HTTP/1.1 200 OK\r\nContent-Length: ",
        // 2^64: a length that would wrap around.
        "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1"}) {
    EXPECT_FALSE(ParseResponseHead(bad, &head)) << bad;
  }
}

}  // namespace
}  // namespace ktls::bench
