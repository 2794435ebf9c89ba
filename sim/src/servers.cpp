#include "servers.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace marllb::sim {

shm::Expected<std::vector<double>> parse_server_set(std::string_view spec) {
    auto fail = [&](const std::string &what) {
        return shm::unexpected(shm::Error{shm::Errc::invalid,
            "server set '" + std::string(spec) + "': " + what +
            " (give capacities in cores like '1,1,1,1,2,2,2', a preset marllb7, marllb6 or marllb24, or @file)"});
    };
    if (spec == "marllb7") return std::vector<double>{1, 1, 1, 1, 2, 2, 2};
    if (spec == "marllb6") return std::vector<double>{2, 2, 2, 4, 4, 4};
    if (spec == "marllb24") {
        std::vector<double> v(12, 2.0);
        v.insert(v.end(), 12, 4.0);
        return v;
    }
    std::string text(spec);
    if (spec.starts_with('@')) {
        std::ifstream in(std::string(spec.substr(1)));
        if (!in) return fail("cannot read the file");
        std::stringstream ss;
        ss << in.rdbuf();
        text = ss.str();
    }
    // Numbers separated by commas and/or white space; a comma with no number on one side
    // ('1,,2', ',1', '1,') is a slip, not a shorter list.
    const std::string empty_item = "an empty item between commas, or a comma at an end: every capacity needs a number";
    std::vector<double> out;
    bool comma_pending = false;
    std::size_t i = 0;
    while (i < text.size()) {
        const char ch = text[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            ++i;
            continue;
        }
        if (ch == ',') {
            if (out.empty() || comma_pending) return fail(empty_item);
            comma_pending = true;
            ++i;
            continue;
        }
        const std::size_t end = std::min(text.find_first_of(",\n \t\r", i), text.size());
        const std::string_view item(text.data() + i, end - i);
        double c = 0;
        auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), c);
        if (ec != std::errc{} || p != item.data() + item.size() || !std::isfinite(c) || c <= 0 || c > 1024)
            return fail("'" + std::string(item) + "' is not a capacity in cores (a number in (0, 1024])");
        out.push_back(c);
        comma_pending = false;
        i = end;
    }
    if (comma_pending) return fail(empty_item);
    if (out.empty()) return fail("no servers");
    if (out.size() > MARLLB_MAX_AS) return fail(std::to_string(out.size()) + " servers; at most 64");
    return out;
}

} // namespace marllb::sim
