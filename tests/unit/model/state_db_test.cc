// Tests of the crash-safe state: the upload journal and the metadata overlay.
#include "asanafs/model/state_db.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

namespace asanafs::model {
namespace {

class StateDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/state_db_test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/state.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
  std::string path_;
};

TEST_F(StateDbTest, JournalSurvivesReopen) {
  int64_t id;
  {
    auto db = StateDb::Open(path_);
    ASSERT_TRUE(db.has_value()) << db.error().message;
    UploadRecord r;
    r.task_gid = "123";
    r.name = "report 'final'.pdf";
    r.replaces_gid = "456";
    r.state = UploadState::kPending;
    r.staged_at = 1700000000;
    r.size = 42;
    auto added = (*db)->AddUpload(r);
    ASSERT_TRUE(added.has_value());
    id = *added;
    r.id = id;
    r.state = UploadState::kUploaded;
    r.uploaded_gid = "789";
    ASSERT_TRUE((*db)->UpdateUpload(r).has_value());
  }
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db.has_value());
  auto list = (*db)->ListUploads();
  ASSERT_TRUE(list.has_value());
  ASSERT_EQ(list->size(), 1u);
  const UploadRecord& r = (*list)[0];
  EXPECT_EQ(r.id, id);
  EXPECT_EQ(r.task_gid, "123");
  EXPECT_EQ(r.name, "report 'final'.pdf");
  EXPECT_EQ(r.replaces_gid, "456");
  EXPECT_EQ(r.state, UploadState::kUploaded);
  EXPECT_EQ(r.uploaded_gid, "789");
  EXPECT_EQ(r.size, 42u);
  ASSERT_TRUE((*db)->RemoveUpload(id).has_value());
  EXPECT_TRUE((*db)->ListUploads()->empty());
}

TEST_F(StateDbTest, OverlayKeepsOnlyWhatWasSetAndMoves) {
  auto db = StateDb::Open(path_);
  ASSERT_TRUE(db.has_value());
  EXPECT_FALSE((*db)->GetOverlay("staged:1").has_value());
  Overlay o;
  o.mode = 0640;
  o.mtime_ns = 1600000000123456789;
  ASSERT_TRUE((*db)->SetOverlay("staged:1", o).has_value());
  ASSERT_TRUE((*db)->MoveOverlay("staged:1", "999").has_value());
  EXPECT_FALSE((*db)->GetOverlay("staged:1").has_value());
  auto moved = (*db)->GetOverlay("999");
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->mode, mode_t{0640});
  EXPECT_EQ(moved->mtime_ns, 1600000000123456789);
  EXPECT_FALSE(moved->uid.has_value());
  EXPECT_FALSE(moved->atime_ns.has_value());
  ASSERT_TRUE((*db)->RemoveOverlay("999").has_value());
  EXPECT_FALSE((*db)->GetOverlay("999").has_value());
}

TEST_F(StateDbTest, UnwritableLocationIsAnIoError) {
  auto db = StateDb::Open(dir_ + "/missing/dir/state.db");
  ASSERT_FALSE(db.has_value());
  EXPECT_EQ(db.error().code, ErrorCode::kIo);
}

}  // namespace
}  // namespace asanafs::model
