// Fuzz target: a region file of hostile bytes. Attaching (as agent and as a restarting LB)
// must fail with an error or succeed, and whatever is attached must be read, polled and
// published to without a crash, a sanitizer report, or a read outside the mapping.
//
// Input: byte 0 picks the shape. Even: the file is the rest of the input, as is. Odd: a
// valid empty region (created here) with the rest of the input written over it from an
// offset in bytes 1-2, so the fuzzer reaches the ring, the action slot and the verdicts.
#include <marllb/shm.hpp>

#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

using namespace marllb::shm;

namespace {

const std::string &region_name() {
    static const std::string name = "marllb_fuzz_image_" + std::to_string(getpid());
    return name;
}

void write_file(const std::string &path, const std::uint8_t *data, std::size_t size, off_t at) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0600);
    if (fd < 0) return;
    if (size) (void)!pwrite(fd, data, size, at);
    close(fd);
}

void exercise_agent(AgentRegion &agent) {
    Observation obs;
    for (int i = 0; i < 3; ++i) (void)agent.read_newest(obs);
    for (int i = 0; i < 6; ++i) (void)agent.read_next(obs);
    static ReservoirData raw;
    (void)agent.read_reservoirs(agent.last_returned(), raw);
    (void)agent.verdicts();
    (void)agent.lb_alive(1000);
}

void exercise_lb(LbRegion &lb) {
    for (int i = 0; i < 3; ++i) (void)lb.poll_action();
    MsgOut m{};
    lb.publish(m);
    (void)lb.poll_action();
    (void)lb.agent_alive(1000);
    if (const MsgIn *a = lb.action()) {
        // An applied action passed validation: sampling from it must stay in range.
        std::uint64_t rng = 1;
        for (int i = 0; i < 64; ++i)
            if (marllb_alias_sample(a->alias_table, a->num_servers, marllb_rand64(&rng)) >= a->num_servers) __builtin_trap();
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    if (size < 1 || size > MARLLB_REGION_SIZE_WITH_RESERVOIRS + 4096) return 0;
    const std::string &name = region_name();
    const std::string path = "/dev/shm/" + name;
    ::unlink(path.c_str());
    if (data[0] % 2 == 0) {
        write_file(path, data + 1, size - 1, 0);
    } else {
        if (size < 3) return 0;
        auto opts = default_options();
        opts.flags = (data[0] & 2) ? MARLLB_OPT_RAW_RESERVOIRS : 0;
        { auto lb = LbRegion::create(name, opts); if (!lb) return 0; } // closed: the LB is gone
        const off_t at = off_t((data[1] | (data[2] << 8)) * 8) % off_t(MARLLB_REGION_SIZE_BASE);
        write_file(path, data + 3, size - 3, at);
    }
    auto opts = default_options();
    opts.flags = MARLLB_OPT_ALLOW_STALE;
    if (auto agent = AgentRegion::attach(name, opts)) exercise_agent(*agent);
    else if (agent.error().message.empty()) __builtin_trap(); // every error says what was wrong
    if (auto lb = LbRegion::reopen(name)) exercise_lb(*lb);
    else if (lb.error().message.empty()) __builtin_trap();
    ::unlink(path.c_str());
    return 0;
}
