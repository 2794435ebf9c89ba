/* What the seed's C API snippet (c_api.snippet) leaves to the LB around it: its own functions
 * and state. Included after the snippet's own #include "shm_layout.h", whose types it uses;
 * the snippet's statements follow as the body of a function (scripts/install_test.sh). */
static uint64_t get_next_seq_id(void) { return 1; }
static uint64_t get_time_us(void) { return 1; }
static uint64_t compute_active_bitmap(void) { return 1; }
static uint32_t count_active_flows(int server) { return (uint32_t)server; }
static void compute_reservoir_features(int server, float *features) { features[0] = (float)server; }
static void apply_weights(const float *weights, uint32_t n) { (void)weights; (void)n; }
static int num_servers = 1;
static uint64_t last_applied;
