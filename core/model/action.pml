/*
 * action.pml — the action slot of marllb-shm, checked with spin (core/model/check.sh).
 *
 * The agent answers observations (their ids come from `published`, advanced by the LB) by
 * writing an action under a seqlock, crashing at any step and restarting; the LB polls the
 * slot between publishes, crashing and restarting too (its private state is lost; the
 * header keeps the applied sequence). A torn action shows as a0 != a1.
 *
 * Properties:
 *   P4 the LB never applies a torn action
 *   P5 the LB never applies an action older than the one in force, across its restarts
 *
 * Mutant: MUTANT_ACTION_NO_LOCK  the LB copies the action without its seqlock (seed defect 4)
 */
#ifndef MAXSEQ
#define MAXSEQ 4
#endif
#ifndef MAXCRASH
#define MAXCRASH 1
#endif

byte published;     /* LB-owned */
byte h_applied;     /* LB-owned header: applied_action_seq */
byte alock;         /* agent-owned */
byte a0;
byte a1;
bool kill_lb;
bool kill_agent;
byte lb_crashes;
byte agent_crashes;
bool lb_done;
byte in_force;      /* the action in force, as the data plane sees it (0 = none) */

active proctype Killer() {
    do
    :: lb_crashes < MAXCRASH && !lb_done -> lb_crashes++; kill_lb = true; (!kill_lb || lb_done)
    :: agent_crashes < MAXCRASH && !lb_done -> agent_crashes++; kill_agent = true; (!kill_agent || lb_done)
    :: break
    od
}

active proctype LB() {
    byte seen;          /* LB-private, lost in a crash */
    byte applied;
    bool has_action;
    byte l1;
    byte l2;
    byte c0;
    byte c1;
restart:
    {
        applied = h_applied;                      /* reopen: the header survives */
        seen = 0;
        has_action = false;
        do
        :: published < MAXSEQ -> published++      /* an observation */
        :: alock != seen ->                       /* LbRegion::poll_action */
            l1 = alock;                           /* acquire */
            if
            :: l1 % 2 == 1 -> seen = l1           /* being written, or its writer died */
            :: l1 % 2 == 0 ->
                c0 = a0;
                c1 = a1;
                l2 = alock;                       /* R2, R3 */
#ifdef MUTANT_ACTION_NO_LOCK
                l2 = l1;
#endif
                if
                :: l2 == l1 ->
                    seen = l1;
                    assert(c0 == c1);             /* P4 */
                    if
                    :: c0 > applied || (c0 == applied && !has_action && c0 > 0) ->
                        assert(c0 >= in_force);   /* P5 */
                        applied = c0;
                        has_action = true;
                        h_applied = c0;
                        in_force = c0
                    :: else -> skip               /* stale */
                    fi
                :: else -> skip                   /* torn: next poll */
                fi
            fi;
            l1 = 0; l2 = 0; c0 = 0; c1 = 0
        :: published == MAXSEQ && alock == seen -> break
        od;
        lb_done = true
    } unless { kill_lb -> kill_lb = false };
    if
    :: !lb_done -> goto restart
    :: else -> skip
    fi
}

active proctype Agent() {
    byte q;
    byte l;
    byte answered;
restart:
    {
        answered = 0;                             /* a restarted agent remembers nothing */
        do
        :: published > answered ->                /* AgentRegion::write_action */
            q = published;
            l = alock;
            l = (l % 2 == 1 -> l + 2 : l + 1);    /* next_odd */
            alock = l;                            /* W0, W1 */
            a0 = q;
            a1 = q;
            alock = l + 1;                        /* W2 */
            answered = q;
            q = 0; l = 0
        :: published == MAXSEQ && answered == MAXSEQ -> break
        od
    } unless { kill_agent -> kill_agent = false };
    if
    :: answered != MAXSEQ -> goto restart
    :: else -> skip
    fi
}
