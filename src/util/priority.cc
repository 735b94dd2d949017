#include "asanafs/util/priority.h"

namespace asanafs {
namespace {

thread_local bool background_thread = false;

}  // namespace

BackgroundPriority::BackgroundPriority() : previous_(background_thread) {
  background_thread = true;
}

BackgroundPriority::~BackgroundPriority() { background_thread = previous_; }

bool BackgroundPriority::active() { return background_thread; }

}  // namespace asanafs
