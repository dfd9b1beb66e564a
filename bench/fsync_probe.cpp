// fsync-probe: how long one durable commit costs on the disk holding a folder.
//   append: append 4 KB and fsync (a growing file: the journal commits metadata too)
//   overwrite: rewrite 4 KB inside an already written file and fdatasync, as SQLite's WAL
//     does at each commit with synchronous=FULL once the WAL has its size (SQLite's unix
//     VFS syncs with fdatasync on Linux)
// Prints the median, mean and 99th percentile of each, COUNT times each.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: fsync-probe DIR [COUNT]\n");
        return 2;
    }
    const std::string path = std::string(argv[1]) + "/fsync-probe.tmp";
    const int count = argc > 2 ? std::atoi(argv[2]) : 300;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        std::perror(path.c_str());
        return 1;
    }
    const std::string block(4096, 'x');
    auto report = [&](const char* what, std::vector<double>& ms) {
        double sum = 0;
        for (const double v : ms) sum += v;
        std::sort(ms.begin(), ms.end());
        std::printf("%s fsyncs=%d p50_ms=%.3f mean_ms=%.3f p99_ms=%.3f\n", what, count, ms[ms.size() / 2], sum / count,
                    ms[std::min(ms.size() - 1, ms.size() * 99 / 100)]);
    };
    // Rewrites the `count` blocks, each synced with `sync`, and times each write.
    const auto timed = [&](int (*sync)(int), const char* what, std::vector<double>& out) {
        for (int i = 0; i < count; ++i) {
            const auto t0 = std::chrono::steady_clock::now();
            if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(i) * 4096) != 4096 || sync(fd) != 0) {
                std::perror(what);
                return false;
            }
            out.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        return true;
    };
    std::vector<double> append, overwrite;
    if (!timed(::fsync, "write/fsync", append) || !timed(::fdatasync, "write/fdatasync", overwrite)) return 1;
    ::close(fd);
    ::unlink(path.c_str());
    report("append+fsync", append);
    report("overwrite+fdatasync", overwrite);
    return 0;
}
