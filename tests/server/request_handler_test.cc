// What the server answers, before any socket is involved: statuses, fields and the
// file range each request gets.
#include "server/request_handler.h"

#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "server/http_date.h"

namespace ktls::server {
namespace {

constexpr std::time_t kModified = 1700000000;

class RequestHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ktls-handler-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    std::ofstream(dir_ + "/file.txt") << std::string(1000, 'x');
    { std::ofstream empty(dir_ + "/empty.bin"); }
    const struct timeval times[2] = {{kModified, 0}, {kModified, 0}};
    ASSERT_EQ(utimes((dir_ + "/file.txt").c_str(), times), 0);
    Result<DocumentRoot> root = DocumentRoot::Open(dir_);
    ASSERT_TRUE(root.ok());
    root_ = std::make_unique<DocumentRoot>(std::move(root).value());
  }
  void TearDown() override { ASSERT_EQ(std::system(("rm -rf '" + dir_ + "'").c_str()), 0); }

  static Request Get(std::string_view target) {
    Request request;
    request.method = "GET";
    request.target = target;
    request.host = "h";
    return request;
  }

  static std::string Field(const Response& response, std::string_view name) {
    for (const auto& [key, value] : response.fields) {
      if (key == name) return value;
    }
    return "<absent>";
  }

  std::string dir_;
  std::unique_ptr<DocumentRoot> root_;
};

TEST_F(RequestHandlerTest, GetServesTheWholeFile) {
  const Response response = HandleRequest(Get("/file.txt"), *root_);
  EXPECT_EQ(response.status, 200);
  EXPECT_TRUE(response.file.valid());
  EXPECT_EQ(response.file_offset, 0u);
  EXPECT_EQ(response.file_length, 1000u);
  EXPECT_TRUE(response.send_body);
  EXPECT_TRUE(response.keep_alive);
  EXPECT_EQ(Field(response, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(Field(response, "Last-Modified"), FormatHttpDate(kModified));
  EXPECT_EQ(Field(response, "Accept-Ranges"), "bytes");
  const std::string head = SerializeHead(response, 0);
  EXPECT_NE(head.find("HTTP/1.1 200 OK\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nContent-Length: 1000\r\n"), std::string::npos);
  EXPECT_NE(head.find("\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n"), std::string::npos);
  EXPECT_EQ(head.find("Connection:"), std::string::npos);
  EXPECT_TRUE(head.ends_with("\r\n\r\n"));
}

TEST_F(RequestHandlerTest, HeadDescribesTheBodyWithoutSendingIt) {
  Request request = Get("/file.txt");
  request.method = "HEAD";
  const Response response = HandleRequest(request, *root_);
  EXPECT_EQ(response.status, 200);
  EXPECT_FALSE(response.send_body);
  EXPECT_NE(SerializeHead(response, 0).find("Content-Length: 1000\r\n"), std::string::npos);
}

TEST_F(RequestHandlerTest, OtherMethodsAre405WithAllow) {
  Request request = Get("/file.txt");
  request.method = "DELETE";
  const Response response = HandleRequest(request, *root_);
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(Field(response, "Allow"), "GET, HEAD");
  EXPECT_TRUE(response.keep_alive);
  request.method = "POST";
  request.content_length = 10;
  EXPECT_FALSE(HandleRequest(request, *root_).keep_alive);  // the body stays unread
}

TEST_F(RequestHandlerTest, BodiesAre413AndClose) {
  Request request = Get("/file.txt");
  request.content_length = 1;
  Response response = HandleRequest(request, *root_);
  EXPECT_EQ(response.status, 413);
  EXPECT_FALSE(response.keep_alive);
  EXPECT_NE(SerializeHead(response, 0).find("Connection: close\r\n"), std::string::npos);
  request.content_length = 0;
  request.chunked = true;
  EXPECT_EQ(HandleRequest(request, *root_).status, 413);
}

TEST_F(RequestHandlerTest, PathErrors) {
  EXPECT_EQ(HandleRequest(Get("/missing"), *root_).status, 404);
  EXPECT_EQ(HandleRequest(Get("/../etc/passwd"), *root_).status, 403);
  EXPECT_EQ(HandleRequest(Get("/%zz"), *root_).status, 400);
  EXPECT_EQ(HandleRequest(Get("/"), *root_).status, 403);
  const Response missing = HandleRequest(Get("/missing"), *root_);
  EXPECT_EQ(missing.body, "404 Not Found\n");
  EXPECT_TRUE(missing.keep_alive);
}

TEST_F(RequestHandlerTest, SingleRangeIs206) {
  Request request = Get("/file.txt");
  request.range = "bytes=10-19";
  const Response response = HandleRequest(request, *root_);
  EXPECT_EQ(response.status, 206);
  EXPECT_EQ(response.file_offset, 10u);
  EXPECT_EQ(response.file_length, 10u);
  EXPECT_EQ(Field(response, "Content-Range"), "bytes 10-19/1000");
  EXPECT_NE(SerializeHead(response, 0).find("Content-Length: 10\r\n"), std::string::npos);
}

TEST_F(RequestHandlerTest, UnsatisfiableRangeIs416) {
  Request request = Get("/file.txt");
  request.range = "bytes=5000-";
  const Response response = HandleRequest(request, *root_);
  EXPECT_EQ(response.status, 416);
  EXPECT_EQ(Field(response, "Content-Range"), "bytes */1000");
  EXPECT_FALSE(response.file.valid());
  Request empty = Get("/empty.bin");
  empty.range = "bytes=0-0";
  EXPECT_EQ(HandleRequest(empty, *root_).status, 416);
}

TEST_F(RequestHandlerTest, SeveralRangesGetTheWholeFile) {
  Request request = Get("/file.txt");
  request.range = "bytes=0-1,5-6";
  const Response response = HandleRequest(request, *root_);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.file_length, 1000u);
}

TEST_F(RequestHandlerTest, IfRangeMustMatchTheDate) {
  Request request = Get("/file.txt");
  request.range = "bytes=0-9";
  const std::string same = FormatHttpDate(kModified);
  const std::string other = FormatHttpDate(kModified - 1);
  request.if_range = same;
  EXPECT_EQ(HandleRequest(request, *root_).status, 206);
  request.if_range = other;
  EXPECT_EQ(HandleRequest(request, *root_).status, 200);
  request.if_range = "\"some-etag\"";
  EXPECT_EQ(HandleRequest(request, *root_).status, 200);
}

TEST_F(RequestHandlerTest, IfModifiedSince) {
  Request request = Get("/file.txt");
  const std::string same = FormatHttpDate(kModified);
  const std::string before = FormatHttpDate(kModified - 10);
  request.if_modified_since = same;
  const Response not_modified = HandleRequest(request, *root_);
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_FALSE(not_modified.send_body);
  EXPECT_EQ(SerializeHead(not_modified, 0).find("Content-Length"), std::string::npos);
  request.if_modified_since = before;
  EXPECT_EQ(HandleRequest(request, *root_).status, 200);
  request.if_modified_since = "yesterday";
  EXPECT_EQ(HandleRequest(request, *root_).status, 200);
}

TEST_F(RequestHandlerTest, Http10KeepAliveIsExplicit) {
  Request request = Get("/file.txt");
  request.version_minor = 0;
  request.keep_alive = true;
  const Response response = HandleRequest(request, *root_);
  EXPECT_NE(SerializeHead(response, 0).find("Connection: keep-alive\r\n"), std::string::npos);
}

}  // namespace
}  // namespace ktls::server
