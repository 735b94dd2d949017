// fuzz_multipart: the file name of an upload, from arbitrary bytes to the
// multipart part handed to the transport. Test-only.
//
// The name comes from the user's file system (any byte but '/' and NUL, and
// through the client API any byte at all). It ends up in the part's
// Content-Disposition header, so the value AsanaClient::UploadAttachment puts
// in MultipartPart::filename must not be able to end the header or the
// parameter (CR, LF, '"', ';', NUL, '\\'), and the emulator, like Asana,
// percent-decodes it: decoding must give back the original bytes.
#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "asanafs/asana/client.h"
#include "asanafs/http/transport.h"
#include "asanafs/http/url.h"
#include "fuzz_check.h"

namespace {

constexpr char kParent[] = "1205000000000004";

// Records the one request and answers like Asana's createAttachmentForObject.
class CapturingTransport : public asanafs::http::HttpTransport {
 public:
  asanafs::Result<asanafs::http::HttpResponse> Send(
      const asanafs::http::HttpRequest& req) override {
    last = req;
    ++calls;
    asanafs::http::HttpResponse resp;
    resp.status = 200;
    resp.body = R"({"data":{"gid":"1205000000000099","name":"x","host":"asana",)"
                R"("resource_subtype":"asana","size":1,"created_at":"2024-01-02T03:04:05.678Z",)"
                R"("parent":{"gid":"1205000000000004"}}})";
    resp.body_bytes = resp.body.size();
    return resp;
  }
  asanafs::http::HttpRequest last;
  int calls = 0;
};

std::string* g_upload_path = nullptr;

// UploadAttachment stats the local file first, so one small real file is
// shared by all runs (removed at exit).
void MakeUploadFile() {
  const char* dir = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/asanafs-fuzz-upload-XXXXXX";
  int fd = mkstemp(tmpl.data());
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(write(fd, "x", 1) == 1);
  close(fd);
  g_upload_path = new std::string(tmpl);
  std::atexit([] { unlink(g_upload_path->c_str()); });
}

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool IsUpperHex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

// Every byte is unreserved or part of a well-formed upper-case %XX escape.
void CheckEncoded(std::string_view enc) {
  for (size_t i = 0; i < enc.size(); ++i) {
    if (enc[i] == '%') {
      FUZZ_CHECK(i + 2 < enc.size() && IsUpperHex(enc[i + 1]) && IsUpperHex(enc[i + 2]));
      i += 2;
    } else {
      FUZZ_CHECK(IsUnreserved(enc[i]));
    }
  }
  FUZZ_CHECK(enc.find_first_of(std::string_view("\r\n\";\\\0", 6)) == std::string_view::npos);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  MakeUploadFile();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string name(reinterpret_cast<const char*>(data), size);

  // The primitives on their own: encoding is a bijection onto safe text, and
  // decoding never reads out of bounds whatever it is given.
  const std::string enc = asanafs::http::PercentEncode(name);
  CheckEncoded(enc);
  FUZZ_CHECK(asanafs::http::PercentDecode(enc) == name);
  const std::string dec = asanafs::http::PercentDecode(name);
  FUZZ_CHECK(dec.size() <= name.size());

  // The real upload path: what the client hands to the transport.
  CapturingTransport transport;
  asanafs::asana::ClientOptions options;
  options.api_url = "http://127.0.0.1:9/api/1.0";
  options.token = "fuzz-token";
  asanafs::asana::AsanaClient client(transport, options);
  auto att = client.UploadAttachment(kParent, name, *g_upload_path);
  FUZZ_CHECK(att.has_value());
  FUZZ_CHECK(transport.calls == 1);
  const auto& req = transport.last;
  FUZZ_CHECK(req.method == "POST");
  FUZZ_CHECK(!req.idempotent);
  FUZZ_CHECK(req.multipart.size() == 2);
  const asanafs::http::MultipartPart* file = nullptr;
  const asanafs::http::MultipartPart* parent = nullptr;
  for (const auto& part : req.multipart) {
    (part.name == "file" ? file : parent) = &part;
  }
  FUZZ_CHECK(file != nullptr && parent != nullptr && parent->name == "parent");
  FUZZ_CHECK(parent->value == kParent);
  FUZZ_CHECK(file->file_path == *g_upload_path);
  FUZZ_CHECK(file->content_type == "application/octet-stream");
  CheckEncoded(file->filename);
  FUZZ_CHECK(asanafs::http::PercentDecode(file->filename) == name);
  // Nothing of the name leaks into the URL or the headers.
  FUZZ_CHECK(req.url.find("/attachments") != std::string::npos);
  for (const auto& [key, value] : req.headers) {
    FUZZ_CHECK(value.find_first_of("\r\n") == std::string::npos);
  }
  return 0;
}
