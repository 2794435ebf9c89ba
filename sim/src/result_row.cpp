#include "result_row.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sys/utsname.h>

namespace marllb::sim {
namespace {
std::string quoted(const std::string &v) {
    if (v.find_first_of(",\"\n") == std::string::npos) return v;
    std::string q = "\"";
    for (char c : v) q += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' ? ' ' : c);
    return q + "\"";
}
} // namespace

std::string proc_field(const char *path, const char *key) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key, 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
        }
    return "unknown";
}

ResultRow::ResultRow() {
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    const char *commit = std::getenv("MARLLB_GIT_COMMIT");
    struct utsname u{};
    uname(&u);
    add("date", date);
    add("git_commit", commit ? commit : "unknown");
    add("cpu_model", proc_field("/proc/cpuinfo", "model name"));
    add("kernel", u.release);
}

ResultRow &ResultRow::add(std::string name, std::string value) {
    cols_.emplace_back(std::move(name), std::move(value));
    return *this;
}
ResultRow &ResultRow::add(std::string name, double value) {
    char b[64];
    std::snprintf(b, sizeof b, "%.6g", value);
    return add(std::move(name), std::string(b));
}
ResultRow &ResultRow::add(std::string name, std::uint64_t value) { return add(std::move(name), std::to_string(value)); }

shm::Expected<void> ResultRow::append_to(const std::string &path) const {
    std::string header, row;
    for (const auto &[k, v] : cols_) {
        header += (header.empty() ? "" : ",") + k;
        row += (row.empty() ? "" : ",") + quoted(v);
    }
    std::error_code ec;
    const std::filesystem::path p(path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
    bool fresh = !std::filesystem::exists(p) || std::filesystem::file_size(p, ec) == 0;
    if (!fresh) {
        std::ifstream in(p);
        std::string existing;
        std::getline(in, existing);
        if (existing != header)
            return shm::unexpected(shm::Error{shm::Errc::invalid,
                "'" + path + "' has another column set (an older schema?): move it aside or pass another --csv; nothing was written"});
    }
    std::ofstream out(p, std::ios::app);
    if (fresh) out << header << '\n';
    out << row << '\n';
    out.flush();
    if (!out) return shm::unexpected(shm::Error{shm::Errc::system, "cannot write '" + path + "'"});
    return {};
}

} // namespace marllb::sim
