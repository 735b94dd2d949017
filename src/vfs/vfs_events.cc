// vfs/vfs_events: change detection. Projects in use are polled with Asana's
// Events API; an event makes the listings it touches stale, they are re-listed
// at once and the kernel is told to drop its cached names and attributes.
// Events are at-most-once: the listing TTL stays as the fallback.
#include <map>
#include <string>
#include <vector>

#include "asanafs/util/log.h"
#include "vfs_internal.h"

namespace asanafs::vfs {
namespace {

// A reply carries at most 100 events; a burst beyond this many pages is
// treated like an expired token (everything re-listed lazily).
constexpr int kMaxEventPages = 10;

}  // namespace

void Vfs::SetKernelInvalidator(KernelInvalidator k) {
  std::lock_guard<std::mutex> lock(mu_);
  kernel_ = std::move(k);
}

void Vfs::NoteUse(const Node* node) {
  if (options_.poll_interval.count() <= 0) {
    return;
  }
  // The project above `node` (events on a project bubble up from its tasks
  // and their subtasks). Nodes above projects have nothing to subscribe to.
  for (const Node* n = node; n != nullptr && n->ino != NodeTable::kRootIno;
       n = nodes_.Get(n->parent)) {
    if (n->kind == NodeKind::kProject) {
      project_used_[n->gid] = clock_.SteadyNow();
      return;
    }
  }
}

void Vfs::EventLoop() {
  std::unique_lock<std::mutex> lock(work_mu_);
  while (!stopping_) {
    work_cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_; });
    if (stopping_ || !events_supported_) {
      break;
    }
    lock.unlock();
    PollEventsOnce();
    lock.lock();
  }
}

void Vfs::DirsTouchedBy(const asana::Event& e, std::set<uint64_t>* dirs) {
  auto touch = [&](const std::string& gid, bool is_resource) {
    for (uint64_t ino : nodes_.InosOf(gid)) {
      const Node* node = nodes_.Get(ino);
      if (IsDirectory(node->kind)) {
        dirs->insert(ino);
        // A task that was renamed, deleted or moved changes its parent's listing.
        if (is_resource && node->parent != 0) {
          dirs->insert(node->parent);
        }
      } else {
        dirs->insert(node->parent);  // an attachment: its task lists it
      }
    }
  };
  touch(e.resource.gid, true);
  if (e.parent) {
    touch(e.parent->gid, false);
  }
  // With -o sections, a project's tasks are listed by its section
  // directories: a task added to or removed from the project changes one of
  // them (which one, the event does not say).
  std::vector<uint64_t> projects;
  for (uint64_t ino : *dirs) {
    const Node* node = nodes_.Get(ino);
    if (node != nullptr && node->kind == NodeKind::kProject) {
      projects.push_back(ino);
    }
  }
  for (uint64_t ino : projects) {
    for (const auto& [name, child] : nodes_.Get(ino)->children) {
      const Node* c = nodes_.Get(child);
      if (c->kind == NodeKind::kSection && c->listed) {
        dirs->insert(child);
      }
    }
  }
}

void Vfs::MarkSubtreeStale(uint64_t ino, std::vector<uint64_t>* marked) {
  Node* node = nodes_.Get(ino);
  if (node == nullptr || !IsDirectory(node->kind) || !node->listed) {
    return;
  }
  node->stale = true;
  marked->push_back(ino);
  for (const auto& [name, child] : node->children) {
    MarkSubtreeStale(child, marked);
  }
}

size_t Vfs::PollEventsOnce() {
  const SteadyTime now = clock_.SteadyNow();
  std::vector<std::pair<std::string, std::string>> streams;  // project gid, sync token
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = project_used_.begin(); it != project_used_.end();) {
      if (now - it->second > options_.active_window) {
        // Not in use any more: stop polling; a later use starts a new stream.
        sync_tokens_.erase(it->first);
        it = project_used_.erase(it);
        continue;
      }
      streams.emplace_back(it->first, sync_tokens_[it->first]);
      ++it;
    }
  }
  std::set<uint64_t> dirs;
  std::vector<uint64_t> stale;
  for (auto& [project, sync] : streams) {
    const bool first = sync.empty();
    std::vector<asana::Event> events;
    bool expired = false;
    bool failed = false;
    for (int page = 0;; ++page) {
      auto reply = api_.GetEvents(project, sync);
      if (!reply.has_value()) {
        if (reply.error().code == ErrorCode::kNotSupported) {
          events_supported_ = false;
        }
        LOG(DEBUG) << "events of project " << project << ": " << reply.error().message;
        failed = true;
        break;
      }
      sync = reply->sync;
      if (reply->expired) {
        expired = true;
        break;
      }
      std::move(reply->events.begin(), reply->events.end(), std::back_inserter(events));
      if (!reply->has_more) {
        break;
      }
      if (page + 1 >= kMaxEventPages) {
        expired = true;  // too much changed: re-list rather than replay
        break;
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (failed) {
      continue;  // keep the old token; the next round retries it
    }
    if (project_used_.contains(project)) {
      sync_tokens_[project] = sync;
    }
    if (expired && !first) {
      // Events were lost: whatever is cached under the project is suspect.
      LOG(INFO) << "event stream of project " << project << " expired; re-listing on next use";
      for (uint64_t ino : nodes_.InosOf(project)) {
        MarkSubtreeStale(ino, &stale);
      }
    }
    for (const auto& e : events) {
      DirsTouchedBy(e, &dirs);
    }
  }
  KernelInvalidator kernel;
  {
    std::lock_guard<std::mutex> lock(mu_);
    kernel = kernel_;
  }
  if (kernel.inode) {
    for (uint64_t ino : stale) {
      kernel.inode(ino);
    }
  }
  return Refresh(dirs);
}

size_t Vfs::Refresh(const std::set<uint64_t>& dirs) {
  size_t refreshed = 0;
  for (uint64_t dir : dirs) {
    std::map<std::string, uint64_t> before;  // name → ino
    {
      std::lock_guard<std::mutex> lock(mu_);
      Node* node = nodes_.Get(dir);
      if (node == nullptr || !node->listed) {
        continue;  // never listed: nothing cached to correct
      }
      before = node->children;
      node->stale = true;  // still served if re-listing fails
    }
    if (!EnsureListed(dir).has_value()) {
      continue;
    }
    ++refreshed;
    std::vector<std::string> gone;
    KernelInvalidator kernel;
    {
      std::lock_guard<std::mutex> lock(mu_);
      Node* node = nodes_.Get(dir);
      for (const auto& [name, ino] : before) {
        // Gone, or now another file: the kernel's entry must not outlive it.
        auto it = node->children.find(name);
        if (it == node->children.end() || it->second != ino) {
          gone.push_back(name);
        }
      }
      kernel = kernel_;
    }
    if (kernel.entry) {
      for (const auto& name : gone) {
        kernel.entry(dir, name);
      }
    }
    if (kernel.inode) {
      kernel.inode(dir);
    }
  }
  return refreshed;
}

}  // namespace asanafs::vfs
