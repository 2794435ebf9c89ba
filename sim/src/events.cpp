#include "events.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace marllb::sim {
namespace {

constexpr std::string_view kHeader = "time_s,event,server,value";

shm::Error bad(std::string_view name, std::size_t line, const std::string &what) {
    return {shm::Errc::invalid, std::string(name) + ":" + std::to_string(line) + ": " + what +
                                    " (lines are 'time_s,event,server,value': capacity,S,CORES; rate,,FLOWS_PER_S; "
                                    "drain,S,; restore,S,; docs/sim.md 'Dynamics')"};
}

bool number(std::string_view s, double &out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc{} && p == s.data() + s.size() && std::isfinite(out);
}

std::string trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return std::string(s);
}

} // namespace

shm::Expected<std::vector<WorldEvent>> parse_events(std::string_view text, std::string_view name, std::size_t servers) {
    std::vector<WorldEvent> out;
    std::size_t line_no = 0;
    bool header_seen = false;
    double last = 0;
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3); // a UTF-8 byte order mark, as some editors write
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string line = trim(text.substr(0, nl));
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++line_no;
        if (const auto hash = line.find('#'); hash != std::string::npos) line = trim(line.substr(0, hash));
        if (line.empty()) continue;
        if (!header_seen) {
            header_seen = true;
            if (line == kHeader) continue;
            return shm::unexpected(bad(name, line_no, "the first line must be the header '" + std::string(kHeader) + "', got '" + line + "'"));
        }
        std::vector<std::string> f;
        std::stringstream ss(line);
        for (std::string item; std::getline(ss, item, ',');) f.push_back(trim(item));
        if (line.back() == ',') f.emplace_back();
        if (f.size() != 4) return shm::unexpected(bad(name, line_no, std::to_string(f.size()) + " fields in '" + line + "', not 4"));
        WorldEvent e;
        if (!number(f[0], e.time_s) || e.time_s < 0)
            return shm::unexpected(bad(name, line_no, "time '" + f[0] + "' is not a number of seconds >= 0"));
        if (e.time_s < last)
            return shm::unexpected(bad(name, line_no, "time " + f[0] + " goes back (the events must be in time order)"));
        last = e.time_s;
        const std::string &kind = f[1];
        if (kind == "capacity") e.kind = WorldEvent::Kind::capacity;
        else if (kind == "rate") e.kind = WorldEvent::Kind::rate;
        else if (kind == "drain") e.kind = WorldEvent::Kind::drain;
        else if (kind == "restore") e.kind = WorldEvent::Kind::restore;
        else return shm::unexpected(bad(name, line_no, "unknown event '" + kind + "'"));
        const bool has_server = e.kind != WorldEvent::Kind::rate;
        if (has_server) {
            double s = -1;
            if (!number(f[2], s) || s < 0 || s != std::floor(s) || s >= double(servers))
                return shm::unexpected(bad(name, line_no, "server '" + f[2] + "' is not an index from 0 to " + std::to_string(servers - 1)));
            e.server = int(s);
        } else if (!f[2].empty())
            return shm::unexpected(bad(name, line_no, "a rate event names no server, got '" + f[2] + "'"));
        const bool has_value = e.kind == WorldEvent::Kind::capacity || e.kind == WorldEvent::Kind::rate;
        if (has_value) {
            if (!number(f[3], e.value) || !(e.value > 0) || (e.kind == WorldEvent::Kind::capacity && e.value > 1024))
                return shm::unexpected(bad(name, line_no, e.kind == WorldEvent::Kind::capacity
                                                              ? "capacity '" + f[3] + "' is not a number of cores in (0, 1024]"
                                                              : "rate '" + f[3] + "' is not a number of flows per second > 0"));
        } else if (!f[3].empty())
            return shm::unexpected(bad(name, line_no, kind + " takes no value, got '" + f[3] + "'"));
        out.push_back(e);
    }
    if (!header_seen) return shm::unexpected(bad(name, 1, "the file is empty: it needs the header '" + std::string(kHeader) + "'"));
    return out;
}

shm::Expected<std::vector<WorldEvent>> load_events(const std::string &path, std::size_t servers) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return shm::unexpected(shm::Error{shm::Errc::invalid, path + ": cannot read the events file (--events)"});
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_events(ss.str(), path, servers);
}

std::vector<DrainEvent> drain_events(const std::vector<WorldEvent> &events, std::uint64_t start_ns) {
    std::vector<DrainEvent> out;
    for (const auto &e : events)
        if (e.kind == WorldEvent::Kind::drain || e.kind == WorldEvent::Kind::restore)
            out.push_back({start_ns + std::uint64_t(std::llround(e.time_s * 1e9)), unsigned(e.server), e.kind == WorldEvent::Kind::drain});
    return out;
}

} // namespace marllb::sim
