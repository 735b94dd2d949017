// asana-emulator: a stateful local stand-in for the Asana REST API (test layer,
// tests/emulator). Parses the command line, loads or seeds the world, serves on 127.0.0.1 and
// stops cleanly on SIGTERM/SIGINT. Usage and behaviour: tests/emulator/README.md.
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <thread>

#include "faults.h"
#include "routes.h"
#include "seeds.h"
#include "util.h"
#include "world.h"

namespace asanafs::emulator {
namespace {

constexpr char kUsage[] =
    "usage: asana-emulator --port PORT|0 --state DIR --seed demo|small|medium|FILE.json\n"
    "                      [--latency-ms N] [--url-ttl-s N] [--faults SPEC] [--fault-seed N]\n"
    "                      [--token TOKEN] [--conn-bandwidth BYTES_PER_S]\n";

bool ParseArgs(int argc, char** argv, Options* o, std::string* error) {
  bool have_port = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else if (arg == "--help" || arg == "-h") {
      *error = "";
      return false;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      *error = "missing value for " + arg;
      return false;
    }
    auto number = [&](uint64_t* out) {
      auto v = ParseUint(value);
      if (!v) *error = arg + " needs a non-negative integer, got '" + value + "'";
      if (v) *out = *v;
      return v.has_value();
    };
    uint64_t n = 0;
    if (arg == "--port") {
      if (!number(&n)) return false;
      if (n > 65535) {
        *error = "--port out of range";
        return false;
      }
      o->port = static_cast<int>(n);
      have_port = true;
    } else if (arg == "--state") {
      o->state_dir = value;
    } else if (arg == "--seed") {
      o->seed = value;
    } else if (arg == "--latency-ms") {
      if (!number(&n)) return false;
      o->latency_ms = static_cast<int64_t>(n);
    } else if (arg == "--url-ttl-s") {
      if (!number(&n)) return false;
      o->url_ttl_s = static_cast<int64_t>(n);
    } else if (arg == "--faults") {
      o->faults = value;
    } else if (arg == "--fault-seed") {
      if (!number(&n)) return false;
      o->fault_seed = n;
    } else if (arg == "--token") {
      o->token = value;
    } else if (arg == "--conn-bandwidth") {
      if (!number(&n)) return false;
      o->conn_bandwidth = n;
    } else {
      *error = "unknown option " + arg;
      return false;
    }
  }
  if (!have_port || o->state_dir.empty() || o->seed.empty()) {
    *error = "--port, --state and --seed are required";
    return false;
  }
  if (o->token.empty()) {
    *error = "--token must not be empty";
    return false;
  }
  return true;
}

int Run(int argc, char** argv) {
  Options options;
  std::string error;
  if (!ParseArgs(argc, argv, &options, &error)) {
    if (!error.empty()) std::cerr << "asana-emulator: " << error << "\n";
    std::cerr << kUsage;
    return error.empty() ? 0 : 2;
  }

  // Signals are taken by a dedicated thread (sigwait); every other thread blocks them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // clients hang up mid-download

  World world(options.state_dir);
  if (!world.Prepare(&error)) {
    std::cerr << "asana-emulator: " << error << "\n";
    return 1;
  }
  if (world.HasSavedWorld()) {
    if (!world.Load(&error)) {
      std::cerr << "asana-emulator: " << error << "\n";
      return 1;
    }
    std::cerr << "asana-emulator: loaded the saved world from " << world.WorldPath() << "\n";
  } else {
    if (!SeedWorld(world, options.seed, &error) || !world.Save(&error)) {
      std::cerr << "asana-emulator: " << error << "\n";
      return 1;
    }
    std::cerr << "asana-emulator: seeded '" << options.seed << "': " << world.workspaces().size()
              << " workspaces, " << world.projects().size() << " projects, " << world.tasks().size()
              << " tasks, " << world.attachments().size() << " attachments\n";
  }

  Faults faults(options.fault_seed);
  if (!faults.Set(options.faults, &error)) {
    std::cerr << "asana-emulator: --faults: " << error << "\n";
    return 2;
  }
  Stats stats;
  Stopper stopper;
  Routes routes(options, world, faults, stats, stopper);

  httplib::Server server;
  // Many keep-alive connections (parallel downloads, slow faults) each hold a worker.
  server.new_task_queue = [] { return new httplib::ThreadPool(64); };
  server.set_keep_alive_max_count(1000);
  // Headers and body go out as separate writes: without TCP_NODELAY every
  // keep-alive reply waits ~40 ms for the client's delayed ACK.
  server.set_tcp_nodelay(true);
  server.set_keep_alive_timeout(5);
  server.set_read_timeout(60);
  server.set_write_timeout(60);
  server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    std::cerr << "asana-emulator: " << req.method << " " << req.path << " -> " << res.status
              << "\n";
  });
  routes.Install(server);

  int port = options.port;
  if (port == 0) {
    port = server.bind_to_any_port("127.0.0.1");
    if (port <= 0) {
      std::cerr << "asana-emulator: cannot bind 127.0.0.1\n";
      return 1;
    }
  } else if (!server.bind_to_port("127.0.0.1", port)) {
    std::cerr << "asana-emulator: cannot bind 127.0.0.1:" << port << "\n";
    return 1;
  }
  WidenListenBacklog(port, 1024);
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  routes.SetBaseUrl(base, port);

  std::atomic<bool> listen_done{false};
  std::thread signal_thread([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    std::cerr << "asana-emulator: " << strsignal(sig) << ", stopping\n";
    stopper.Stop();
    // Server::stop() does nothing until the accept loop runs; a signal right after READY
    // can come before that, so repeat until listen_after_bind() has returned.
    while (!listen_done) {
      server.stop();
      ShutdownConnections(port);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });

  std::cout << "READY " << base << "/api/1.0" << std::endl;  // endl flushes
  const bool ok = server.listen_after_bind();
  listen_done = true;
  if (!stopper.stopping()) {
    // The server ended by itself: wake the signal thread so it can be joined.
    std::cerr << "asana-emulator: ERROR the server stopped unexpectedly\n";
    kill(getpid(), SIGTERM);
  }
  signal_thread.join();
  std::cerr << "asana-emulator: stopped\n";
  return ok || stopper.stopping() ? 0 : 1;
}

}  // namespace
}  // namespace asanafs::emulator

int main(int argc, char** argv) { return asanafs::emulator::Run(argc, argv); }
