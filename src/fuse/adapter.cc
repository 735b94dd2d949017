#include "asanafs/fuse/adapter.h"

#include <cerrno>
#include <ctime>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "asanafs/util/log.h"
#include "asanafs/vfs/errno.h"
#include "asanafs/vfs/vfs.h"

namespace asanafs::fuse {
namespace {

using vfs::Vfs;

Vfs& GetVfs(fuse_req_t req) { return *static_cast<Vfs*>(fuse_req_userdata(req)); }

// Replies with the errno for `error` and logs one line: DEBUG for the
// everyday ENOENT, INFO for refusals a user caused, WARN for real failures.
void ReplyError(fuse_req_t req, const char* op, const Error& error) {
  int err = vfs::ToErrno(error);
  if (err == ENOENT) {
    LOG(DEBUG) << op << " failed with " << std::strerror(err) << ": " << error.message;
  } else if (err == EROFS || err == EISDIR || err == ENOTDIR || err == EPERM || err == EEXIST ||
             err == EFBIG) {
    LOG(INFO) << op << " refused with errno " << err << " (" << std::strerror(err)
              << "): " << error.message;
  } else {
    LOG(WARN) << op << " failed with errno " << err << " (" << std::strerror(err)
              << "): " << error.message;
  }
  fuse_reply_err(req, err);
}

// Runs `body` so that no C++ exception unwinds into libfuse's C frames.
template <typename Body>
void Dispatch(fuse_req_t req, const char* op, Body&& body) noexcept {
  try {
    body(GetVfs(req));
  } catch (const std::bad_alloc&) {
    LOG(ERROR) << op << " ran out of memory";
    fuse_reply_err(req, ENOMEM);
  } catch (const std::exception& e) {
    LOG(ERROR) << op << " threw: " << e.what();
    fuse_reply_err(req, EIO);
  } catch (...) {
    LOG(ERROR) << op << " threw an unknown exception";
    fuse_reply_err(req, EIO);
  }
}

fuse_entry_param ToEntryParam(const vfs::Entry& e) {
  fuse_entry_param p;
  std::memset(&p, 0, sizeof p);
  p.ino = e.ino;
  p.generation = 1;
  p.attr = e.attr;
  p.attr_timeout = e.attr_timeout;
  p.entry_timeout = e.entry_timeout;
  return p;
}

// Collects readdir entries into a reply buffer of at most `size` bytes.
class ReplyDirFiller : public vfs::DirFiller {
 public:
  ReplyDirFiller(fuse_req_t req, size_t size) : req_(req), buf_(size) {}
  bool Add(std::string_view name, const struct stat& st, off_t next_offset) override {
    std::string n(name);
    size_t need = fuse_add_direntry(req_, buf_.data() + used_, buf_.size() - used_, n.c_str(), &st,
                                    next_offset);
    if (need > buf_.size() - used_) {
      return false;
    }
    used_ += need;
    return true;
  }
  void Reply() { fuse_reply_buf(req_, buf_.data(), used_); }

 private:
  fuse_req_t req_;
  std::vector<char> buf_;
  size_t used_ = 0;
};

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Dispatch(req, "lookup", [&](Vfs& fs) {
    auto entry = fs.Lookup(parent, name);
    if (!entry) {
      return ReplyError(req, "lookup", entry.error());
    }
    fuse_entry_param e = ToEntryParam(*entry);
    fuse_reply_entry(req, &e);
  });
}

void Forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Dispatch(req, "forget", [&](Vfs& fs) {
    fs.Forget(ino, nlookup);
    fuse_reply_none(req);
  });
}

void ForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  Dispatch(req, "forget_multi", [&](Vfs& fs) {
    for (size_t i = 0; i < count; ++i) {
      fs.Forget(forgets[i].ino, forgets[i].nlookup);
    }
    fuse_reply_none(req);
  });
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Dispatch(req, "getattr", [&](Vfs& fs) {
    auto st = fs.GetAttr(ino);
    if (!st) {
      return ReplyError(req, "getattr", st.error());
    }
    fuse_reply_attr(req, &*st, 1.0);
  });
}

void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  Dispatch(req, "setattr", [&](Vfs& fs) {
    vfs::SetAttrRequest r;
    if (to_set & FUSE_SET_ATTR_MODE) {
      r.mode = attr->st_mode;
    }
    if (to_set & FUSE_SET_ATTR_UID) {
      r.uid = attr->st_uid;
    }
    if (to_set & FUSE_SET_ATTR_GID) {
      r.gid = attr->st_gid;
    }
    if (to_set & FUSE_SET_ATTR_SIZE) {
      r.size = attr->st_size;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
      r.atime = now;
    } else if (to_set & FUSE_SET_ATTR_ATIME) {
      r.atime = attr->st_atim;
    }
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
      r.mtime = now;
    } else if (to_set & FUSE_SET_ATTR_MTIME) {
      r.mtime = attr->st_mtim;
    }
    auto st = fs.SetAttr(ino, r);
    if (!st) {
      return ReplyError(req, "setattr", st.error());
    }
    fuse_reply_attr(req, &*st, 1.0);
  });
}

void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Dispatch(req, "opendir", [&](Vfs& fs) {
    auto fh = fs.OpenDir(ino);
    if (!fh) {
      return ReplyError(req, "opendir", fh.error());
    }
    fi->fh = *fh;
    fuse_reply_open(req, fi);
  });
}

void ReadDir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  Dispatch(req, "readdir", [&](Vfs& fs) {
    ReplyDirFiller filler(req, size);
    auto status = fs.ReadDir(fi->fh, off, filler);
    if (!status) {
      return ReplyError(req, "readdir", status.error());
    }
    filler.Reply();
  });
}

void ReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Dispatch(req, "releasedir", [&](Vfs& fs) {
    fs.ReleaseDir(fi->fh);
    fuse_reply_err(req, 0);
  });
}

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Dispatch(req, "open", [&](Vfs& fs) {
    auto opened = fs.Open(ino, fi->flags, fuse_req_ctx(req)->pid);
    if (!opened) {
      return ReplyError(req, "open", opened.error());
    }
    fi->fh = opened->fh;
    fi->keep_cache = opened->keep_cache ? 1 : 0;
    fi->direct_io = opened->direct_io ? 1 : 0;
    fuse_reply_open(req, fi);
  });
}

void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  Dispatch(req, "read", [&](Vfs& fs) {
    auto src = fs.PrepareRead(fi->fh, size, off);
    if (!src) {
      return ReplyError(req, "read", src.error());
    }
    if (src->fd < 0) {
      fuse_reply_buf(req, src->inline_bytes.data(), src->size);
      return;
    }
    // Straight from the cache or staging file: with FUSE_CAP_SPLICE_WRITE
    // libfuse splices the pages into /dev/fuse instead of copying them.
    fuse_bufvec data = FUSE_BUFVEC_INIT(src->size);
    data.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    data.buf[0].fd = src->fd;
    data.buf[0].pos = src->offset;
    fuse_reply_data(req, &data, FUSE_BUF_SPLICE_MOVE);
  });
}

void Release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Dispatch(req, "release", [&](Vfs& fs) {
    fs.Release(fi->fh);
    fuse_reply_err(req, 0);
  });
}

// Replies 0 or the errno of `status`, for operations that return nothing.
void ReplyStatus(fuse_req_t req, const char* op, const Status& status) {
  if (!status) {
    return ReplyError(req, op, status.error());
  }
  fuse_reply_err(req, 0);
}

void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  Dispatch(req, "create", [&](Vfs& fs) {
    auto created = fs.Create(parent, name, mode, fi->flags, fuse_req_ctx(req)->pid);
    if (!created) {
      return ReplyError(req, "create", created.error());
    }
    fi->fh = created->fh;
    fuse_entry_param e = ToEntryParam(created->entry);
    fuse_reply_create(req, &e, fi);
  });
}

void Write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off,
           fuse_file_info* fi) {
  Dispatch(req, "write", [&](Vfs& fs) {
    auto n = fs.Write(fi->fh, buf, size, off);
    if (!n) {
      return ReplyError(req, "write", n.error());
    }
    fuse_reply_write(req, *n);
  });
}

void Flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Dispatch(req, "flush",
           [&](Vfs& fs) { ReplyStatus(req, "flush", fs.Flush(fi->fh, fuse_req_ctx(req)->pid)); });
}

void Fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info* fi) {
  Dispatch(req, "fsync", [&](Vfs& fs) { ReplyStatus(req, "fsync", fs.Fsync(fi->fh)); });
}

void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Dispatch(req, "unlink", [&](Vfs& fs) { ReplyStatus(req, "unlink", fs.Unlink(parent, name)); });
}

void Rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Dispatch(req, "rmdir", [&](Vfs& fs) { ReplyStatus(req, "rmdir", fs.Rmdir(parent, name)); });
}

void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t new_parent,
            const char* new_name, unsigned flags) {
  Dispatch(req, "rename", [&](Vfs& fs) {
    ReplyStatus(req, "rename", fs.Rename(parent, name, new_parent, new_name, flags));
  });
}

void Mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Dispatch(req, "mkdir", [&](Vfs& fs) {
    auto entry = fs.Mkdir(parent, name, mode);
    if (!entry) {
      return ReplyError(req, "mkdir", entry.error());
    }
    fuse_entry_param e = ToEntryParam(*entry);
    fuse_reply_entry(req, &e);
  });
}

void StatFs(fuse_req_t req, fuse_ino_t) {
  Dispatch(req, "statfs", [&](Vfs& fs) {
    struct statvfs s = fs.StatFs();
    fuse_reply_statfs(req, &s);
  });
}

// Answers a getxattr/listxattr: the size when `size` is 0, else the bytes.
void ReplyXattr(fuse_req_t req, const std::string& value, size_t size) {
  if (size == 0) {
    fuse_reply_xattr(req, value.size());
  } else if (value.size() > size) {
    fuse_reply_err(req, ERANGE);
  } else {
    fuse_reply_buf(req, value.data(), value.size());
  }
}

void GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Dispatch(req, "getxattr", [&](Vfs& fs) {
    auto value = fs.GetXattr(ino, name);
    if (!value) {
      // A missing attribute is an everyday answer: no log line.
      fuse_reply_err(req, vfs::ToErrno(value.error()));
      return;
    }
    ReplyXattr(req, *value, size);
  });
}

void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Dispatch(req, "listxattr", [&](Vfs& fs) {
    auto names = fs.ListXattr(ino);
    if (!names) {
      return ReplyError(req, "listxattr", names.error());
    }
    std::string joined;
    for (const auto& n : *names) {
      joined += n;
      joined.push_back('\0');
    }
    ReplyXattr(req, joined, size);
  });
}

// Symlinks, hard links and device files have no place in Asana.
void RefuseUnsupported(fuse_req_t req, const char* op) {
  Dispatch(req, op, [&](Vfs& fs) { ReplyError(req, op, fs.RefuseUnsupported(op).error()); });
}

}  // namespace

fuse_lowlevel_ops MakeLowLevelOps() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = [](void*, fuse_conn_info* conn) {
    // Reads are answered from files (see Read): let libfuse splice them.
    if (conn->capable & FUSE_CAP_SPLICE_WRITE) {
      conn->want |= FUSE_CAP_SPLICE_WRITE;
    }
    conn->max_write = vfs::kIoBlockSize;
  };
  ops.lookup = Lookup;
  ops.forget = Forget;
  ops.forget_multi = ForgetMulti;
  ops.getattr = GetAttr;
  ops.setattr = SetAttr;
  ops.opendir = OpenDir;
  ops.readdir = ReadDir;
  ops.releasedir = ReleaseDir;
  ops.open = Open;
  ops.read = Read;
  ops.release = Release;
  ops.statfs = StatFs;
  ops.getxattr = GetXattr;
  ops.listxattr = ListXattr;
  // The user.asana.* attributes are read-only; others cannot be stored.
  ops.setxattr = [](fuse_req_t req, fuse_ino_t, const char*, const char*, size_t, int) {
    fuse_reply_err(req, ENOTSUP);
  };
  ops.removexattr = [](fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, ENOTSUP); };
  ops.create = Create;
  ops.write = Write;
  ops.flush = Flush;
  ops.fsync = Fsync;
  ops.unlink = Unlink;
  ops.rmdir = Rmdir;
  ops.rename = Rename;
  ops.mkdir = Mkdir;
  ops.mknod = [](fuse_req_t req, fuse_ino_t, const char*, mode_t, dev_t) {
    RefuseUnsupported(req, "mknod");
  };
  ops.symlink = [](fuse_req_t req, const char*, fuse_ino_t, const char*) {
    RefuseUnsupported(req, "symlink");
  };
  ops.link = [](fuse_req_t req, fuse_ino_t, fuse_ino_t, const char*) {
    RefuseUnsupported(req, "link");
  };
  return ops;
}

}  // namespace asanafs::fuse
