// Request-target decoding: percent-encoding, traversal, and target forms.
#include "server/request_path.h"

#include <gtest/gtest.h>

namespace ktls::server {
namespace {

std::string Relative(std::string_view target) {
  const TargetPath path = DecodeTargetPath(target);
  EXPECT_EQ(path.error_status, 0) << target;
  return path.relative;
}

int StatusOf(std::string_view target) {
  return DecodeTargetPath(target).error_status;
}

TEST(RequestPathTest, PlainPaths) {
  EXPECT_EQ(Relative("/"), "");
  EXPECT_EQ(Relative("/a/b.txt"), "a/b.txt");
  EXPECT_EQ(Relative("//a///b/"), "a/b");
  EXPECT_EQ(Relative("/./a/./b"), "a/b");
  EXPECT_EQ(Relative("/a?x=../../etc/passwd"), "a");
  EXPECT_EQ(Relative("/a#frag"), "a");
}

TEST(RequestPathTest, PercentDecoding) {
  EXPECT_EQ(Relative("/hello%20world.txt"), "hello world.txt");
  EXPECT_EQ(Relative("/%7Euser/%41"), "~user/A");
  EXPECT_EQ(Relative("/a%2fb"), "a/b");  // decoded before splitting
  EXPECT_EQ(Relative("/caf%C3%A9"), "caf\xC3\xA9");
  EXPECT_EQ(Relative("/100%25"), "100%");
}

TEST(RequestPathTest, BadEncodingIs400) {
  EXPECT_EQ(StatusOf("/a%"), 400);
  EXPECT_EQ(StatusOf("/a%4"), 400);
  EXPECT_EQ(StatusOf("/a%zz"), 400);
  EXPECT_EQ(StatusOf("/a%00b"), 400);  // NUL would cut the path short
}

TEST(RequestPathTest, TraversalIs403) {
  EXPECT_EQ(StatusOf("/../etc/passwd"), 403);
  EXPECT_EQ(StatusOf("/a/../../b"), 403);
  EXPECT_EQ(StatusOf("/a/.."), 403);
  EXPECT_EQ(StatusOf("/%2e%2e/etc/passwd"), 403);
  EXPECT_EQ(StatusOf("/%2E%2E%2Fetc%2Fpasswd"), 403);
  EXPECT_EQ(StatusOf("/a/..%2f..%2fb"), 403);
  EXPECT_EQ(StatusOf("/a/.%2e/b"), 403);
  // Names that only look like dots are fine.
  EXPECT_EQ(Relative("/a/...b/..c"), "a/...b/..c");
}

TEST(RequestPathTest, TargetForms) {
  EXPECT_EQ(Relative("http://example.com/a/b"), "a/b");
  EXPECT_EQ(Relative("HTTPS://example.com:8443/x?y"), "x");
  EXPECT_EQ(Relative("https://example.com"), "");
  EXPECT_EQ(StatusOf("*"), 400);
  EXPECT_EQ(StatusOf("a/b"), 400);
  EXPECT_EQ(StatusOf("example.com:443"), 400);
}

}  // namespace
}  // namespace ktls::server
