// The config loader on any text: a ConfigError (exit 2 with a message) or a config whose
// values keep the promises the programs rely on; never a crash or another exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/config.hpp"
#include "core/maildir.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text = as_view(data, size);
    try {
        const rm::Config c = rm::parse_config(text, "/etc/retention-milter/fuzz.toml");
        for (const auto& line : c.lines) {
            FUZZ_CHECK(!line.tag.empty());
            FUZZ_CHECK(c.find_line(line.tag) == &line);
            (void)c.policy_of(line);  // every line has a policy
        }
        for (const auto& m : c.sweep.mailboxes) {
            FUZZ_CHECK(!m.path.empty() && m.path.front() == '/');
            // Folder names become one directory below the mailbox root, never outside it.
            for (const auto* list : {&m.sent_folders, &m.deleted_folders}) {
                for (const auto& f : *list) {
                    const std::string dir = rm::folder_dir_for(f);
                    FUZZ_CHECK(dir.find('/') == std::string::npos);
                    FUZZ_CHECK(dir != "." && dir != "..");
                }
            }
        }
        for (const auto& f : c.sweep.files) FUZZ_CHECK(!f.path.empty() && f.path.front() == '/');
        FUZZ_CHECK(!c.index.path.empty());
        FUZZ_CHECK(!c.index.key_file.empty());
    } catch (const rm::ConfigError& e) {
        FUZZ_CHECK(std::string(e.what()).find("fuzz.toml") != std::string::npos);
    }
    return 0;
}
