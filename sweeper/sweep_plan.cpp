#include "sweeper/sweep_plan.hpp"

#include <algorithm>
#include <chrono>

namespace rm::sweep {

std::string FileRef::dir() const {
    if (folder.empty()) return sub;
    if (sub.empty()) return folder;
    return folder + "/" + sub;
}

void FileRef::take(const struct stat& st) {
    dev = st.st_dev;
    ino = st.st_ino;
    nlink = st.st_nlink;
    size = st.st_size;
    mtime = st.st_mtim;
}

bool FileRef::same_file(const struct stat& st) const {
    return S_ISREG(st.st_mode) && st.st_dev == dev && st.st_ino == ino && st.st_size == size &&
           st.st_mtim.tv_sec == mtime.tv_sec && st.st_mtim.tv_nsec == mtime.tv_nsec;
}

long planned_destroys(const Plan& plan) {
    return static_cast<long>(std::count_if(plan.destroys.begin(), plan.destroys.end(),
                                           [](const DestroyItem& d) { return d.kind != DestroyKind::Residue; }));
}

void count_planned(const Plan& plan, Summary& summary) {
    for (const DestroyItem& d : plan.destroys) {
        switch (d.kind) {
            case DestroyKind::Message: ++summary.lines[d.label].destroyed; break;
            case DestroyKind::Orphan: ++summary.lines[d.label].orphans_destroyed; break;
            case DestroyKind::File: ++summary.files[d.label].destroyed; break;
            case DestroyKind::Residue: ++summary.residues.interrupted_finished; break;
        }
    }
    for (const MoveItem& m : plan.moves) ++summary.lines[m.line].moved;
    summary.rows_marked_unseen += static_cast<long>(plan.unseen.size());
}

std::string path_of(const Plan& plan, size_t root, const std::string& rel) {
    const std::string& path = plan.roots[root].path;
    if (rel.empty()) return path;
    return path + "/" + (rel.front() == '/' ? rel.substr(1) : rel);
}

std::string path_of(const Plan& plan, const FileRef& f) { return path_of(plan, f.root, f.dir() + "/" + f.name); }

std::string line_of(const Root& root) { return root.kind == MailboxKind::Shared ? root.line : std::string(); }

}  // namespace rm::sweep
