#include "marllb/measure/host.hpp"

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sys/utsname.h>
#include <unistd.h>

namespace marllb::measure {

std::string proc_field(const char *path, const char *key) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(key, 0) == 0) {
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            const auto value = line.find_first_not_of(" \t", colon + 1);
            return value == std::string::npos ? std::string() : line.substr(value);
        }
    return "unknown";
}

const std::string &run_id() {
    static const std::string id = [] {
        const char *given = std::getenv("MARLLB_RUN_ID");
        if (given && *given) return std::string(given);
        char stamp[32];
        const std::time_t now = std::time(nullptr);
        std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", std::gmtime(&now));
        return std::string(stamp) + "-" + std::to_string(getpid());
    }();
    return id;
}

Host host() {
    Host h;
    h.run_id = run_id();
    char date[32];
    const std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    h.date = date;
    const char *commit = std::getenv("MARLLB_GIT_COMMIT");
    h.git_commit = commit && *commit ? commit : build_git_commit();
    h.cpu_model = proc_field("/proc/cpuinfo", "model name");
    struct utsname u{};
    h.kernel = uname(&u) == 0 ? u.release : "unknown";
    return h;
}

std::vector<std::pair<std::string, std::string>> host_columns(const Host &h) {
    return {{"run_id", h.run_id}, {"date", h.date}, {"git_commit", h.git_commit}, {"cpu_model", h.cpu_model}, {"kernel", h.kernel}};
}

} // namespace marllb::measure
