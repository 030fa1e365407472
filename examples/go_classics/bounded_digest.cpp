// bounded_digest: digest every file in a directory tree with a fixed number of coroutines (the
// Go blog's bounded.go), ported line by line from bounded_digest.go.
//
// Porting notes:
//   - Go's error is std::error_code here: {} is nil. os.ReadFile is goro::fs::read_file (the
//     read goes through the worker's io_uring and parks only this coroutine); it throws
//     std::system_error, whose code() is the error. filepath.Walk is a small walk() over
//     std::filesystem::recursive_directory_iterator.
//   - Go's struct{} is std::monostate, the element type of goro's done channels.
//   - `defer close(done)` is a scope guard (defer, below): it runs when DigestAll returns, on
//     every path, as the Go defer does.
//   - No garbage collector: when DigestAll returns early (an error), the digesters and the
//     closer goroutine are still running and still use the WaitGroup, so it cannot be a local of
//     DigestAll as in Go. It is a shared_ptr the goroutines share. Channels are reference-counted
//     handles already, so they need nothing of the kind.
//   - Go's map iterates in random order and the program sorts the keys; the port keeps Go's
//     shape (collect the keys, sort them) although a std::map would already be sorted.
#include <goro/goro.hpp>

#include <stdlib.h>

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace stdfs = std::filesystem;

// Go's defer for one call: runs f when the enclosing scope ends.
template <class F>
struct defer {
  F f;
  ~defer() { f(); }
};
template <class F>
defer(F) -> defer<F>;  // clang 14 has no deduction for aggregates

// fnv1a64 is the 64-bit FNV-1a hash of data.
static std::uint64_t fnv1a64(const std::string& data) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char b : data) {
    h ^= std::uint64_t(b);
    h *= 1099511628211ull;
  }
  return h;
}

// filepath.Walk, reduced to what this program needs: calls fn(path) for each regular file
// under root (symbolic links are not followed, as Walk's Lstat does not); the first error, the
// walk's own or one fn returns, ends the walk and is returned.
template <class F>
static std::error_code walk(const std::string& root, F fn) {
  std::error_code ec;
  for (stdfs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    stdfs::file_status st = it->symlink_status(ec);
    if (ec) return ec;
    if (st.type() != stdfs::file_type::regular) continue;
    if (std::error_code err = fn(it->path().string())) return err;
  }
  return ec;
}

// walkFiles starts a goroutine to walk the directory tree at root and send the path of each
// regular file on the string channel. It sends the result of the walk on the error channel.
// If done is closed, walkFiles abandons its work.
static std::pair<goro::recv_chan<std::string>, goro::recv_chan<std::error_code>> walkFiles(
    goro::recv_chan<std::monostate> done, std::string root) {
  goro::chan<std::string> paths;
  goro::chan<std::error_code> errc(1);
  goro::go([=]() mutable {
    // Close the paths channel after walk returns.
    defer close_paths{[&] { paths.close(); }};
    // No select needed for this send, since errc is buffered.
    errc.send(walk(root, [&](const std::string& path) -> std::error_code {
      std::size_t fired = goro::select(goro::on_send(paths, path), goro::on_recv(done));
      if (fired == 1) {
        return std::make_error_code(std::errc::operation_canceled);  // "walk canceled"
      }
      return {};
    }));
  });
  return {paths, errc};
}

// A result is the digest of a file (or the error reading it).
struct result {
  std::string path;
  std::uint64_t sum;
  std::error_code err;
};

// digester reads path names from paths and sends digests of the corresponding files on c
// until either paths or done is closed.
static void digester(goro::recv_chan<std::monostate> done, goro::recv_chan<std::string> paths,
                     goro::send_chan<result> c) {
  for (std::string& path : paths) {
    std::string data;
    std::error_code err;
    try {
      data = goro::fs::read_file(path);
    } catch (const std::system_error& e) {
      err = e.code();
    }
    std::size_t fired = goro::select(goro::on_send(c, result{path, fnv1a64(data), err}),
                                     goro::on_recv(done));
    if (fired == 1) {
      return;
    }
  }
}

// DigestAll reads all the files in the file tree rooted at root and returns a map from file
// path to the digest of the file's contents. If the directory walk fails or any read operation
// fails, DigestAll returns an error. In that case DigestAll does not wait for inflight read
// operations to complete.
static std::pair<std::unordered_map<std::string, std::uint64_t>, std::error_code> DigestAll(
    const std::string& root) {
  // DigestAll closes the done channel when it returns; it may do so before receiving all the
  // values from c and errc.
  goro::chan<std::monostate> done;
  defer close_done{[&] { done.close(); }};

  auto [paths, errc] = walkFiles(done, root);

  // Start a fixed number of goroutines to read and digest files.
  goro::chan<result> c;
  auto wg = std::make_shared<goro::wait_group>();
  const int numDigesters = 4;
  wg->add(numDigesters);
  for (int i = 0; i < numDigesters; i++) {
    goro::go([=, paths = paths] {
      digester(done, paths, c);
      wg->done();
    });
  }
  goro::go([=]() mutable {
    wg->wait();
    c.close();
  });

  std::unordered_map<std::string, std::uint64_t> m;
  for (result& r : c) {
    if (r.err) {
      return {{}, r.err};
    }
    m[r.path] = r.sum;
  }
  // Check whether the walk failed.
  if (std::error_code err = *errc.recv(); err) {
    return {{}, err};
  }
  return {m, {}};
}

// xorshift is Marsaglia's xorshift64 generator: the same sequence in the Go and C++ versions.
struct xorshift {
  std::uint64_t x;
  std::uint64_t next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }
};

// makeTree fills root with 4 directories of 3 subdirectories each, holding 0 to 4 files of 0 to
// 4999 pseudo-random bytes.
static std::error_code makeTree(const std::string& root) {
  xorshift rng{1975};
  for (int d = 0; d < 4; d++) {
    for (int s = 0; s < 3; s++) {
      stdfs::path dir = stdfs::path(root) / ("dir" + std::to_string(d)) / ("sub" + std::to_string(s));
      std::error_code err;
      stdfs::create_directories(dir, err);
      if (err) {
        return err;
      }
      int nfiles = int(rng.next() % 5);
      for (int f = 0; f < nfiles; f++) {
        std::string data(rng.next() % 5000, '\0');
        for (char& b : data) {
          b = char(rng.next());
        }
        try {
          goro::fs::write_file(dir / ("file" + std::to_string(f) + ".dat"), data);
        } catch (const std::system_error& e) {
          return e.code();
        }
      }
    }
  }
  return {};
}

int main(int argc, char** argv) {
  return goro::run([argc, argv] {
    std::string root;
    std::optional<defer<std::function<void()>>> remove_tmp;  // Go: defer os.RemoveAll(tmp)
    if (argc > 1) {
      root = argv[1];
    } else {
      std::string tmp = (stdfs::temp_directory_path() / "bounded_digestXXXXXX").string();
      if (!::mkdtemp(tmp.data())) {
        std::printf("%s\n", std::error_code(errno, std::generic_category()).message().c_str());
        return 1;
      }
      remove_tmp.emplace(defer<std::function<void()>>{[tmp] {
        std::error_code ignored;
        stdfs::remove_all(tmp, ignored);
      }});
      if (std::error_code err = makeTree(tmp)) {
        std::printf("%s\n", err.message().c_str());
        return 1;
      }
      root = tmp;
    }

    auto [m, err] = DigestAll(root);
    if (err) {
      std::printf("%s\n", err.message().c_str());
      return 1;
    }
    std::vector<std::string> paths;
    for (auto& [path, sum] : m) {
      paths.push_back(path);
    }
    std::sort(paths.begin(), paths.end());
    for (auto& path : paths) {
      std::string rel = stdfs::path(path).lexically_relative(root).string();
      std::printf("%016" PRIx64 "  %s\n", m[path], rel.c_str());
    }
    std::printf("%zu files\n", paths.size());

    auto missing = DigestAll((stdfs::path(root) / "missing").string());
    std::printf("digesting a missing directory fails: %s\n", missing.second ? "true" : "false");
    return 0;
  });
}
