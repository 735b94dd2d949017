#include "asanafs/vfs/node_table.h"

namespace asanafs::vfs {

NodeTable::NodeTable() {
  auto root = std::make_unique<Node>();
  root->ino = kRootIno;
  root->parent = kRootIno;
  root->kind = NodeKind::kRoot;
  nodes_.emplace(kRootIno, std::move(root));
}

Node* NodeTable::Get(uint64_t ino) {
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? nullptr : it->second.get();
}

Node* NodeTable::Intern(uint64_t parent, const std::string& gid, NodeKind kind) {
  auto key = std::make_pair(parent, gid);
  auto it = by_parent_gid_.find(key);
  if (it != by_parent_gid_.end()) {
    return nodes_.at(it->second).get();
  }
  auto node = std::make_unique<Node>();
  node->ino = next_ino_++;
  node->parent = parent;
  node->gid = gid;
  node->kind = kind;
  Node* raw = node.get();
  by_parent_gid_.emplace(std::move(key), raw->ino);
  nodes_.emplace(raw->ino, std::move(node));
  return raw;
}

void NodeTable::Rekey(uint64_t ino, uint64_t parent, const std::string& gid) {
  Node* node = Get(ino);
  if (node == nullptr) {
    return;
  }
  auto old_key = std::make_pair(node->parent, node->gid);
  if (auto it = by_parent_gid_.find(old_key); it != by_parent_gid_.end() && it->second == ino) {
    by_parent_gid_.erase(it);
  }
  node->parent = parent;
  node->gid = gid;
  by_parent_gid_[std::make_pair(parent, gid)] = ino;
}

void NodeTable::Erase(uint64_t ino) {
  Node* node = Get(ino);
  if (node == nullptr || ino == kRootIno) {
    return;
  }
  auto key = std::make_pair(node->parent, node->gid);
  if (auto it = by_parent_gid_.find(key); it != by_parent_gid_.end() && it->second == ino) {
    by_parent_gid_.erase(it);
  }
  nodes_.erase(ino);
}

std::vector<uint64_t> NodeTable::InosOf(const std::string& gid) const {
  std::vector<uint64_t> out;
  for (const auto& [key, ino] : by_parent_gid_) {
    if (key.second == gid) {
      out.push_back(ino);
    }
  }
  return out;
}

}  // namespace asanafs::vfs
