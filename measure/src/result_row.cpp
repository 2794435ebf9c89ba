#include "marllb/measure/result_row.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace marllb::measure {
namespace {
std::string quoted(const std::string &v) {
    if (v.find_first_of(",\"\n") == std::string::npos) return v;
    std::string q(1, '"');
    for (char c : v) {
        if (c == '"') q += '"';
        q += c == '\n' ? ' ' : c;
    }
    q += '"';
    return q;
}

shm::Expected<void> cannot_write(const std::string &path, const std::string &reason) {
    return shm::unexpected(shm::Error{shm::Errc::system, "cannot write '" + path + "': " + reason});
}
} // namespace

shm::Expected<void> check_writable(const std::string &path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path p(path);
    if (path.empty()) return cannot_write(path, "no file name given");
    const auto st = fs::status(p, ec);
    if (fs::is_directory(st)) return cannot_write(path, "it is a directory (name a file in it)");
    if (fs::exists(st)) {
        if (::access(path.c_str(), W_OK) != 0) return cannot_write(path, std::strerror(errno));
        return {};
    }
    // The nearest existing ancestor: a directory we may write into (missing folders are made).
    fs::path up = p.parent_path();
    if (up.empty()) up = ".";
    while (!fs::exists(up, ec) && up.has_parent_path() && up != up.parent_path()) up = up.parent_path();
    if (fs::exists(up, ec) && !fs::is_directory(up, ec))
        return cannot_write(path, std::string(std::strerror(ENOTDIR)) + " ('" + up.string() + "' is a file)");
    if (::access(up.c_str(), W_OK | X_OK) != 0)
        return cannot_write(path, std::string(std::strerror(errno)) + " (in '" + up.string() + "')");
    return {};
}

ResultRow::ResultRow() : ResultRow(host()) {}
ResultRow::ResultRow(const Host &h) : cols_(host_columns(h)) {}

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

std::string ResultRow::header() const {
    std::string h;
    for (std::size_t i = 0; i < cols_.size(); ++i) {
        if (i) h += ',';
        h += cols_[i].first;
    }
    return h;
}
std::string ResultRow::line() const {
    std::string r;
    for (std::size_t i = 0; i < cols_.size(); ++i) {
        if (i) r += ',';
        r += quoted(cols_[i].second);
    }
    return r;
}

shm::Expected<void> ResultRow::check_appendable(const std::string &path) const {
    if (auto ok = check_writable(path); !ok) return ok;
    std::error_code ec;
    const std::filesystem::path p(path);
    if (!std::filesystem::exists(p) || std::filesystem::file_size(p, ec) == 0) return {};
    std::ifstream in(p);
    std::string existing;
    std::getline(in, existing);
    if (existing != header())
        return shm::unexpected(shm::Error{shm::Errc::invalid,
            "'" + path + "' has another column set (an older schema?): move it aside or write to another file; nothing was written"});
    return {};
}

shm::Expected<void> ResultRow::append_to(const std::string &path) const {
    if (auto ok = check_appendable(path); !ok) return ok;
    std::error_code ec;
    const std::filesystem::path p(path);
    if (p.has_parent_path() && !std::filesystem::create_directories(p.parent_path(), ec) && ec)
        return cannot_write(path, ec.message());
    const bool fresh = !std::filesystem::exists(p) || std::filesystem::file_size(p, ec) == 0;
    const std::string text = (fresh ? header() + '\n' : std::string()) + line() + '\n';
    std::FILE *f = std::fopen(path.c_str(), "a");
    if (!f) return cannot_write(path, std::strerror(errno));
    const bool wrote = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    const int werr = errno;
    if (std::fclose(f) != 0 || !wrote) return cannot_write(path, std::strerror(wrote ? errno : werr));
    return {};
}

} // namespace marllb::measure
