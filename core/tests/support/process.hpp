// Child processes for multi-process tests: started with posix_spawn, stopped by their pid.
#pragma once

#include <cerrno>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <marllb/shm.hpp>

#include <string>
#include <vector>

extern char **environ;

namespace marllb::test {

class Child {
public:
    explicit Child(std::vector<std::string> argv) {
        std::vector<char *> args;
        for (auto &a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        if (posix_spawn(&pid_, args[0], nullptr, nullptr, args.data(), environ) != 0) pid_ = -1;
    }
    Child(const Child &) = delete;
    Child &operator=(const Child &) = delete;
    ~Child() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            wait();
        }
    }
    [[nodiscard]] pid_t pid() const { return pid_; }
    void kill_now(int sig = SIGKILL) const {
        if (pid_ > 0) kill(pid_, sig);
    }
    // Waits for exit; returns the exit code, or 128 + signal.
    int wait() {
        if (pid_ <= 0) return -1;
        int status = 0;
        while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
        }
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }

private:
    pid_t pid_ = -1;
};

// Unlinks a test's region name when the test ends, whatever it did.
struct RegionCleanup {
    std::string name;
    ~RegionCleanup() { (void)marllb::shm::unlink_region(name); }
};

// A region name unique to this process and test.
inline std::string unique_region(const std::string &tag) {
    return "marllb_test_" + tag + "_" + std::to_string(getpid());
}

} // namespace marllb::test
