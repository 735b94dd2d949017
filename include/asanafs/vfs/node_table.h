// vfs/node_table: inode numbers ⇄ nodes of the Asana tree. Layer: vfs.
//
// Directory inodes are per path, keyed by (parent ino, gid): a task that is
// in two projects is two directories (the kernel forbids directory aliases).
// File inodes use the same key. Not synchronized: Vfs holds its mutex.
#ifndef ASANAFS_VFS_NODE_TABLE_H_
#define ASANAFS_VFS_NODE_TABLE_H_

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "asanafs/util/clock.h"

namespace asanafs::vfs {

// kSection: a section directory of a project (only with -o sections).
enum class NodeKind { kRoot, kWorkspace, kProject, kSection, kTask, kAttachment, kLink, kStatus };

inline bool IsDirectory(NodeKind k) {
  return k == NodeKind::kRoot || k == NodeKind::kWorkspace || k == NodeKind::kProject ||
         k == NodeKind::kSection || k == NodeKind::kTask;
}

struct Node {
  uint64_t ino = 0;
  uint64_t parent = 0;
  NodeKind kind = NodeKind::kRoot;
  std::string gid;
  std::string name;       // the mapped path component in its parent
  std::string raw_name;   // the name Asana has (what an overwrite uploads as)
  int64_t staged_id = 0;  // non-zero: content is a staged upload (journal id)
  struct stat st {};
  uint64_t nlookup = 0;  // kernel references (lookup minus forget)
  // Files: a kLink's whole content ([InternetShortcut] text).
  std::string link_text;
  // What Asana told us, for the user.asana.* extended attributes.
  std::string url;   // task permalink_url, attachment view_url
  std::string host;  // attachments: asana, gdrive, dropbox, …
  std::optional<std::chrono::system_clock::time_point> created_at;
  bool uploaded_here = false;  // landed through this mount
  // Directories: the current listing, name → ino (ordered: stable readdir).
  bool listed = false;
  SteadyTime listed_at{};
  bool stale = false;  // an event or an expired event stream: re-list at next use
  // Bumped at every change this mount makes to `children` (an upload landed,
  // a rename, an unlink, a mkdir): a listing requested before such a change
  // may predate it and is not applied over it (EnsureListed asks again).
  uint64_t local_changes = 0;
  std::map<std::string, uint64_t> children;
  // Traversal detection for listing prefetch, per listing (epoch = listed_at).
  SteadyTime descent_epoch{};
  uint64_t last_descent = 0;  // the child directory opened last
  int descents = 0;           // distinct child directories opened in a row
  bool prefetched = false;
};

class NodeTable {
 public:
  static constexpr uint64_t kRootIno = 1;
  NodeTable();

  // Returns the node for `ino`, or nullptr for an unknown inode.
  Node* Get(uint64_t ino);
  // Returns the node of the child `gid` of `parent`, creating it (with a new
  // inode number) the first time; `kind` is set on creation.
  Node* Intern(uint64_t parent, const std::string& gid, NodeKind kind);
  // Gives node `ino` a new identity: child `gid` of `parent` (after an upload
  // landed, or a rename). Another node with that key loses it.
  void Rekey(uint64_t ino, uint64_t parent, const std::string& gid);
  size_t size() const { return nodes_.size(); }
  // Drops node `ino` (not the root). Callers make sure nothing refers to it:
  // the kernel forgot it, no listing, handle or staged upload names it.
  void Erase(uint64_t ino);
  // Every inode that stands for `gid` (a gid can sit under several parents).
  std::vector<uint64_t> InosOf(const std::string& gid) const;

 private:
  uint64_t next_ino_ = kRootIno + 1;
  std::unordered_map<uint64_t, std::unique_ptr<Node>> nodes_;
  std::map<std::pair<uint64_t, std::string>, uint64_t> by_parent_gid_;
};

}  // namespace asanafs::vfs

#endif  // ASANAFS_VFS_NODE_TABLE_H_
