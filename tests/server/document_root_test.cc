// Path resolution under a real directory tree: files, index pages, symbolic links in
// and out of the root, and what may never be served.
#include "server/document_root.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "server/request_path.h"

namespace ktls::server {
namespace {

class DocumentRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ktls-docroot-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    base_ = pattern;
    root_ = base_ + "/root";
    Mkdir(root_);
    Mkdir(root_ + "/sub");
    Mkdir(root_ + "/empty");
    Mkdir(base_ + "/root2");
    Mkdir(base_ + "/outside");
    Write(root_ + "/a.txt", "alpha");
    Write(root_ + "/space name.txt", "spaced");
    Write(root_ + "/sub/index.html", "<p>sub</p>");
    Write(root_ + "/sub/b.txt", "beta");
    Write(base_ + "/outside/secret.txt", "secret");
    Write(base_ + "/root2/file.txt", "sibling");
    Symlink("a.txt", root_ + "/link_in");
    Symlink("../a.txt", root_ + "/sub/link_up_inside");
    Symlink(base_ + "/outside/secret.txt", root_ + "/link_out");
    Symlink("../outside", root_ + "/dir_out");
    Symlink("../root2/file.txt", root_ + "/link_sibling");  // shares the root's prefix
    Mkdir(root_ + "/sub2");
    Symlink(base_ + "/outside/secret.txt", root_ + "/sub2/index.html");
    Symlink("loop", root_ + "/loop");
    ASSERT_EQ(mkfifo((root_ + "/fifo").c_str(), 0644), 0);
    Result<DocumentRoot> opened = DocumentRoot::Open(root_);
    ASSERT_TRUE(opened.ok());
    root_object_ = std::make_unique<DocumentRoot>(std::move(opened).value());
  }

  void TearDown() override {
    const std::string command = "rm -rf '" + base_ + "'";
    ASSERT_EQ(std::system(command.c_str()), 0);
  }

  static void Mkdir(const std::string& path) { ASSERT_EQ(mkdir(path.c_str(), 0755), 0) << path; }
  static void Write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  static void Symlink(const std::string& target, const std::string& path) {
    ASSERT_EQ(symlink(target.c_str(), path.c_str()), 0) << path;
  }

  // Resolves a request-target as the server does.
  ResolvedFile Get(std::string_view target) {
    const TargetPath path = DecodeTargetPath(target);
    if (path.error_status != 0) {
      ResolvedFile refused;
      refused.status = path.error_status;
      return refused;
    }
    return root_object_->Resolve(path.relative);
  }

  std::string Content(const ResolvedFile& file) {
    std::string text(static_cast<size_t>(file.st.st_size), '\0');
    EXPECT_EQ(pread(file.fd.get(), text.data(), text.size(), 0), static_cast<ssize_t>(text.size()));
    return text;
  }

  std::string base_;
  std::string root_;
  std::unique_ptr<DocumentRoot> root_object_;
};

TEST_F(DocumentRootTest, ServesFilesUnderTheRoot) {
  ResolvedFile a = Get("/a.txt");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(Content(a), "alpha");
  EXPECT_EQ(Content(Get("/sub/b.txt")), "beta");
  EXPECT_EQ(Content(Get("/space%20name.txt")), "spaced");
  EXPECT_EQ(Content(Get("/sub%2fb.txt")), "beta");
}

TEST_F(DocumentRootTest, MissingFilesAre404) {
  EXPECT_EQ(Get("/nope.txt").status, 404);
  EXPECT_EQ(Get("/a.txt/x").status, 404);  // ENOTDIR
  EXPECT_EQ(Get("/sub/nope/x").status, 404);
}

TEST_F(DocumentRootTest, DirectoriesServeTheirIndexOrNothing) {
  ResolvedFile sub = Get("/sub/");
  ASSERT_EQ(sub.status, 200);
  EXPECT_EQ(Content(sub), "<p>sub</p>");
  EXPECT_EQ(Get("/sub").status, 200);
  EXPECT_EQ(Get("/empty/").status, 403);  // no listings
  EXPECT_EQ(Get("/").status, 403);
}

TEST_F(DocumentRootTest, TraversalIsRefused) {
  EXPECT_EQ(Get("/../outside/secret.txt").status, 403);
  EXPECT_EQ(Get("/sub/../../outside/secret.txt").status, 403);
  EXPECT_EQ(Get("/%2e%2e/outside/secret.txt").status, 403);
  EXPECT_EQ(Get("/..%2foutside%2fsecret.txt").status, 403);
}

TEST_F(DocumentRootTest, SymlinksInsideTheRootWork) {
  EXPECT_EQ(Content(Get("/link_in")), "alpha");
  EXPECT_EQ(Content(Get("/sub/link_up_inside")), "alpha");
}

TEST_F(DocumentRootTest, SymlinksOutOfTheRootAre403) {
  EXPECT_EQ(Get("/link_out").status, 403);
  EXPECT_EQ(Get("/dir_out/secret.txt").status, 403);
  EXPECT_EQ(Get("/link_sibling").status, 403);
  EXPECT_EQ(Get("/loop").status, 403);   // ELOOP
  EXPECT_EQ(Get("/sub2/").status, 403);  // an index page that leads out
}

TEST_F(DocumentRootTest, OnlyRegularFiles) {
  EXPECT_EQ(Get("/fifo").status, 403);
}

TEST_F(DocumentRootTest, UnreadableFilesAre403) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads every file";
  Write(root_ + "/private.txt", "x");
  ASSERT_EQ(chmod((root_ + "/private.txt").c_str(), 0), 0);
  EXPECT_EQ(Get("/private.txt").status, 403);
}

TEST_F(DocumentRootTest, TheRootMustBeADirectory) {
  EXPECT_EQ(DocumentRoot::Open(root_ + "/a.txt").error(), ENOTDIR);
  EXPECT_EQ(DocumentRoot::Open(base_ + "/missing").error(), ENOENT);
}

}  // namespace
}  // namespace ktls::server
