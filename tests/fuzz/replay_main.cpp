// Replays fuzz inputs without libFuzzer: each file named on the command line (or each file
// in a directory named there) is given once to the harness's LLVMFuzzerTestOneInput. The
// normal and sanitizer builds run every committed corpus this way (ctest -L fuzz), so each
// crash once found stays a regression test even where clang's libFuzzer is not used.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

int replay(const std::filesystem::path& p) {
    // stdio rather than istreambuf_iterator: GCC 12's -Wnull-dereference misfires on the
    // latter inside libstdc++ at -O2, and warnings are errors here.
    std::FILE* f = std::fopen(p.c_str(), "rb");
    if (f == nullptr) {
        std::fprintf(stderr, "cannot read %s\n", p.c_str());
        return 1;
    }
    std::string bytes;
    char buf[65536];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, n);
    std::fclose(f);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    int failures = 0;
    int count = 0;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path arg(argv[i]);
        if (std::filesystem::is_directory(arg)) {
            std::vector<std::filesystem::path> files;
            for (const auto& e : std::filesystem::directory_iterator(arg)) {
                if (e.is_regular_file()) files.push_back(e.path());
            }
            std::sort(files.begin(), files.end());
            for (const auto& f : files) {
                failures += replay(f);
                ++count;
            }
        } else {
            failures += replay(arg);
            ++count;
        }
    }
    std::printf("%d inputs replayed\n", count);
    return failures == 0 && count > 0 ? 0 : 1;
}
