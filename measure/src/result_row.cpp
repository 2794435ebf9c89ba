#include "marllb/measure/result_row.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>

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
} // namespace

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
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
    const bool fresh = !std::filesystem::exists(p) || std::filesystem::file_size(p, ec) == 0;
    const std::string head = header();
    std::ofstream out(p, std::ios::app);
    if (fresh) out << head << '\n';
    out << line() << '\n';
    out.flush();
    if (!out) return shm::unexpected(shm::Error{shm::Errc::system, "cannot write '" + path + "'"});
    return {};
}

} // namespace marllb::measure
