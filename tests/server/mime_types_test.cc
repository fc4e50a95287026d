#include "server/mime_types.h"

#include <gtest/gtest.h>

namespace ktls::server {
namespace {

TEST(MimeTypesTest, ByExtension) {
  EXPECT_EQ(MimeTypeFor("/srv/site/index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(MimeTypeFor("a/B.PNG"), "image/png");
  EXPECT_EQ(MimeTypeFor("notes.txt"), "text/plain; charset=utf-8");
  EXPECT_EQ(MimeTypeFor("app.js"), "text/javascript; charset=utf-8");
}

TEST(MimeTypesTest, UnknownIsOctetStream) {
  EXPECT_EQ(MimeTypeFor("random.bin"), "application/octet-stream");
  EXPECT_EQ(MimeTypeFor("README"), "application/octet-stream");
  EXPECT_EQ(MimeTypeFor(".bashrc"), "application/octet-stream");
  EXPECT_EQ(MimeTypeFor("dir.html/file"), "application/octet-stream");
  EXPECT_EQ(MimeTypeFor("x.unknown"), "application/octet-stream");
}

}  // namespace
}  // namespace ktls::server
