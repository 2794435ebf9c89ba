/*
 * action.pml — the action slot of marllb-shm, checked with spin (core/model/check.sh).
 *
 * The agent answers observations (their ids come from `published`, advanced by the LB) by
 * writing an action under a seqlock, crashing at any step and restarting; the LB polls the
 * slot between publishes, crashing and restarting too (its private state is lost; the
 * header keeps the applied sequence and the action record keeps the action in force and the
 * lock value last handled). A torn action shows as a0 != a1. A killed agent may stay dead.
 *
 * Properties:
 *   P4 the LB never applies a torn action
 *   P5 the LB never applies an action older than the one in force, across its restarts
 *   P6 no LB restart loses the action in force: at the end, the LB holds an action at least
 *      as new as the newest one saved in the record (saved right after it is applied), and
 *      the header names the one it holds
 *
 * Mutants: MUTANT_ACTION_NO_LOCK  the LB copies the action without its seqlock (seed defect 4)
 *          MUTANT_NO_RECORD       a restarted LB re-adopts only from the slot (the lost cases)
 */
#ifndef MAXSEQ
#define MAXSEQ 4
#endif
#ifndef MAXCRASH
#define MAXCRASH 1
#endif

byte published;     /* LB-owned */
byte h_applied;     /* LB-owned header: applied_action_seq */
byte r_saved;       /* LB-owned action record: the action in force (saved atomically: two buffers) */
byte r_handled;     /* LB-owned action record: the slot lock value last handled */
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
#ifdef MUTANT_NO_RECORD
        applied = h_applied;                      /* reopen: the header survives */
        seen = 0;
        has_action = false;
#else
        applied = r_saved;                        /* LbRegion::restore_action: re-adopted */
        has_action = r_saved > 0;
        h_applied = r_saved;
        seen = r_handled;
#endif
        do
        :: published < MAXSEQ -> published++      /* an observation */
        :: alock != seen ->                       /* LbRegion::poll_action */
            l1 = alock;                           /* acquire */
            if
            :: l1 % 2 == 1 -> seen = l1; r_handled = l1 /* being written, or its writer died */
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
                        r_saved = c0;             /* save_action */
                        h_applied = c0;
                        in_force = c0
                    :: else -> skip               /* stale */
                    fi;
                    r_handled = l1
                :: else -> skip                   /* torn: next poll */
                fi
            fi;
            l1 = 0; l2 = 0; c0 = 0; c1 = 0
        :: published == MAXSEQ && alock == seen -> break
        od;
        assert(r_saved == 0 || (has_action && applied >= r_saved && h_applied == applied)); /* P6 */
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
    :: answered != MAXSEQ -> skip                 /* a killed agent nobody restarts */
    :: else -> skip
    fi
}
