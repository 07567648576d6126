%% The Erlang/OTP side of bench/: W1-W6 and three Savina workloads (Big,
%% Chameneos, Fork-Join create) written as the tasklet peers run them (same
%% counts), so that Erlang's figures are measured on the same machine in the
%% same run as the JVM suite. W5/W6 use a second node started with OTP's
%% `peer` module (distributed Erlang over TCP on this host). Run by
%% bench/erlang/run.sh [scale] [runs] [schedulers]; prints one Clojure map:
%% workload -> a vector of the measured runs' figure maps (after one warm-up
%% run each), e.g. {:W2 [{:rt-per-s 3.0e6} ...] ...}.
-module(erl_peer).
-export([main/1, echo/0, sink/2]).

%% Scale (a string, "1.0" for the full counts) multiplies every count.
main([Scale, Runs]) ->
    put(scale, list_to_float(Scale)),
    put(runs, list_to_integer(Runs)),
    Local = [{'W1', fun w1/0}, {'W2', fun w2/0}, {'W3', fun w3/0}, {'W4', fun w4/0},
             {'BIG', fun big/0}, {'CHAMENEOS', fun chameneos/0}, {'FJC', fun fjc/0}],
    R1 = [{W, runs_of(F)} || {W, F} <- Local],
    {ok, Peer, Node} = peer:start_link(#{name => erl_peer_b,
                                         args => ["-setcookie", atom_to_list(erlang:get_cookie()),
                                                  "-pa", filename:dirname(code:which(?MODULE))]}),
    R2 = [{'W5', runs_of(fun() -> w5(Node) end)}, {'W6', runs_of(fun() -> w6(Node) end)}],
    peer:stop(Peer),
    io:format("{:otp ~s :schedulers ~p~s}~n",
              [erlang:system_info(otp_release), erlang:system_info(schedulers_online),
               [[" :", atom_to_list(W), " [", [edn_map(M) || M <- Ms], "]"] || {W, Ms} <- R1 ++ R2]]),
    halt(0).

%% a warm-up run, then `runs` measured runs: a list of figure proplists
runs_of(F) ->
    _ = F(),
    [F() || _ <- lists:seq(1, get(runs))].

edn_map(Props) ->
    ["{", [[" :", atom_to_list(K), " ", io_lib:format("~p", [float(V)])] || {K, V} <- Props], "}"].

check(What, Expected, Actual) ->
    case Expected =:= Actual of
        true -> ok;
        false -> erlang:error({check_failed, What, Expected, Actual})
    end.

per_s(N, Micros) -> N * 1000000 / max(Micros, 1).

scaled(N) -> max(1, round(N * get(scale))).

%% W1: 1,000,000 processes each waiting in receive: ms until all have run up
%% to their receive (the run queues are empty), bytes per process
%% (erlang:memory(processes) after minus before), ms until all have ended
%% after one message each
w1() ->
    N = scaled(1000000),
    Me = self(),
    erlang:garbage_collect(),
    Before = erlang:memory(processes),
    T0 = erlang:monotonic_time(microsecond),
    Ps = [spawn(fun() -> receive wake -> Me ! ended end end) || _ <- lists:seq(1, N)],
    wait_idle(),
    T1 = erlang:monotonic_time(microsecond),
    Bytes = (erlang:memory(processes) - Before) / N,
    [P ! wake || P <- Ps],
    [receive ended -> ok end || _ <- Ps],
    T2 = erlang:monotonic_time(microsecond),
    [{'create-ms', (T1 - T0) / 1000}, {'bytes-per', round(Bytes)}, {'end-ms', (T2 - T1) / 1000}].

wait_idle() ->
    case erlang:statistics(total_run_queue_lengths_all) of
        0 -> ok;
        _ -> erlang:yield(), wait_idle()
    end.

%% W3: a ring of 10,000 processes, a token (the hops left) goes round 100
%% times; whichever process gets 0 reports (as the tasklet peer does)
w3() ->
    Ring = scaled(10000), Rounds = 100,
    Hops = Ring * Rounds,
    Me = self(),
    T0 = erlang:monotonic_time(microsecond),
    Head = spawn(fun() -> receive {link, Next} -> relay(Next, Me) end end),
    Tail = lists:foldl(fun(_, Nxt) -> spawn(fun() -> relay(Nxt, Me) end) end, Head, lists:seq(2, Ring)),
    Head ! {link, Tail},
    T1 = erlang:monotonic_time(microsecond),
    Head ! Hops,
    receive ring_done -> ok end,
    T2 = erlang:monotonic_time(microsecond),
    Head ! stop,
    [{'create-ms', (T1 - T0) / 1000}, {'hops-per-s', Hops * 1000000 / max(T2 - T1, 1)}].

relay(Next, Me) ->
    receive
        stop -> Next ! stop;
        0 -> Me ! ring_done, relay(Next, Me);
        K -> Next ! K - 1, relay(Next, Me)
    end.

%% W2: 1,000,000 round trips between two processes
w2() ->
    N = scaled(1000000),
    Pong = spawn(fun pong/0),
    {T, ok} = timer:tc(fun() -> ping(Pong, N) end),
    Pong ! stop,
    [{'rt-per-s', per_s(N, T)}, {'ns-per-hop', T * 1000 / (2 * N)}].

pong() -> receive {From, I} -> From ! I, pong(); stop -> ok end.

ping(_, 0) -> ok;
ping(Pong, I) -> Pong ! {self(), I}, receive I -> ping(Pong, I - 1) end.

%% W4: 4 senders x 1,000,000 {msg, I} to one receiver
w4() ->
    N = scaled(1000000), S = 4,
    Me = self(),
    {T, ok} = timer:tc(fun() ->
        R = spawn(fun() -> count(S * N), Me ! done end),
        [spawn(fun() -> send_n(R, N) end) || _ <- lists:seq(1, S)],
        receive done -> ok end
    end),
    [{'msgs-per-s', per_s(S * N, T)}].

count(0) -> ok;
count(K) -> receive {msg, _} -> count(K - 1) end.

send_n(_, 0) -> ok;
send_n(R, I) -> R ! {msg, I}, send_n(R, I - 1).

%% W5: 100,000 remote round trips with an echo process on the other node
w5(Node) ->
    N = scaled(100000),
    E = spawn(Node, ?MODULE, echo, []),
    {T, ok} = timer:tc(fun() -> remote_ping(E, N) end),
    E ! stop,
    [{'rt-per-s', per_s(N, T)}, {'us-per-rt', T / N}].

echo() -> receive {From, M} -> From ! M, echo(); stop -> ok end.

remote_ping(_, 0) -> ok;
remote_ping(E, I) -> E ! {self(), I}, receive I -> remote_ping(E, I - 1) end.

%% W6: 1,000,000 one-way small messages to a sink on the other node, acknowledged at the end
w6(Node) ->
    N = scaled(1000000),
    Me = self(),
    {T, ok} = timer:tc(fun() ->
        S = spawn(Node, ?MODULE, sink, [N, Me]),
        send_n(S, N),
        receive done -> ok end
    end),
    [{'msgs-per-s', per_s(N, T)}].

sink(0, ReplyTo) -> ReplyTo ! done;
sink(K, ReplyTo) -> receive _ -> sink(K - 1, ReplyTo) end.

%% Savina Big: 120 processes each send 20,000 pings to random others, each
%% answered with a pong; msgs/s counts pings and pongs
big() ->
    N = 120, P = scaled(20000),
    Me = self(),
    T0 = erlang:monotonic_time(microsecond),
    Pids = [spawn(fun() -> big_init(I, P, Me) end) || I <- lists:seq(0, N - 1)],
    Peers = list_to_tuple(Pids),
    [Pid ! {peers, Peers} || Pid <- Pids],
    [receive done -> ok end || _ <- Pids],
    T1 = erlang:monotonic_time(microsecond),
    [Pid ! stop || Pid <- Pids],
    check(big_answered, N * P, lists:sum([receive {answered, A} -> A end || _ <- Pids])),
    [{'msgs-per-s', per_s(2 * N * P, T1 - T0)}].

big_init(I, P, Sink) ->
    receive
        {peers, Peers} ->
            S = big_ping(Peers, I, rand:seed_s(exsss, I + 42)),
            big_loop(Peers, I, P, 1, 0, Sink, S)
    end.

big_ping(Peers, I, S0) ->
    {J0, S} = rand:uniform_s(tuple_size(Peers) - 1, S0),
    J = if J0 - 1 >= I -> J0; true -> J0 - 1 end,
    element(J + 1, Peers) ! {ping, self()},
    S.

big_loop(Peers, I, P, Sent, Answered, Sink, S) ->
    receive
        {ping, From} -> From ! pong, big_loop(Peers, I, P, Sent, Answered + 1, Sink, S);
        pong when Sent < P -> big_loop(Peers, I, P, Sent + 1, Answered, Sink, big_ping(Peers, I, S));
        pong -> Sink ! done, big_loop(Peers, I, P, Sent, Answered, Sink, S);
        stop -> Sink ! {answered, Answered}
    end.

%% Savina Chameneos: 100 chameneos meet 1,000,000 times through one mall
chameneos() ->
    N = 100, M = scaled(1000000),
    Me = self(),
    T0 = erlang:monotonic_time(microsecond),
    spawn(fun() ->
        Mall = self(),
        Colours = {blue, red, yellow},
        [spawn(fun() -> chameneo_start(Mall, element(I rem 3 + 1, Colours)) end) || I <- lists:seq(0, N - 1)],
        Me ! {mall_done, mall(N, M, none, 0, 0, 0, 0)}
    end),
    receive {mall_done, {Held, Total, T1}} -> ok end,
    check(chameneos_held, M, Held),
    check(chameneos_counted, 2 * M, Total),
    [{'meetings-per-s', per_s(M, T1 - T0)}].

mall(N, _M, _Waiting, Held, N, Total, T1) -> {Held, Total, T1};
mall(N, M, Waiting, Held, Reported, Total, T1) ->
    receive
        {meet, From, _C} when Held =:= M -> From ! stop, mall(N, M, Waiting, Held, Reported, Total, T1);
        {meet, From, C} when Waiting =:= none -> mall(N, M, {From, C}, Held, Reported, Total, T1);
        {meet, From, C} ->
            {W, _} = Waiting,
            W ! {meet_with, From, C},
            H = Held + 1,
            T = if H =:= M -> erlang:monotonic_time(microsecond); true -> T1 end,
            mall(N, M, none, H, Reported, Total, T);
        {meets, K} -> mall(N, M, Waiting, Held, Reported + 1, Total + K, T1)
    end.

chameneo_start(Mall, C) ->
    Mall ! {meet, self(), C},
    chameneo(Mall, C, 0).

chameneo(Mall, C, Meets) ->
    receive
        {meet_with, Other, OC} ->
            C2 = complement(C, OC),
            Other ! {change, C2},
            Mall ! {meet, self(), C2},
            chameneo(Mall, C2, Meets + 1);
        {change, C2} -> Mall ! {meet, self(), C2}, chameneo(Mall, C2, Meets + 1);
        stop -> Mall ! {meets, Meets}
    end.

complement(C, C) -> C;
complement(blue, red) -> yellow;
complement(blue, yellow) -> red;
complement(red, blue) -> yellow;
complement(red, yellow) -> blue;
complement(yellow, blue) -> red;
complement(yellow, red) -> blue.

%% Savina Fork-Join create: 500,000 processes, one message each; each
%% computes sin(37.2)^2 and ends; the last to finish tells the creator
fjc() ->
    N = scaled(500000),
    Me = self(),
    A = atomics:new(2, [{signed, true}]),
    T0 = erlang:monotonic_time(microsecond),
    fj_spawn(0, N, A, Me),
    receive fj_done -> ok end,
    T1 = erlang:monotonic_time(microsecond),
    check(fjc_checksum, N * (N - 1) div 2, atomics:get(A, 2)),
    [{'actors-per-s', per_s(N, T1 - T0)}].

fj_spawn(N, N, _, _) -> ok;
fj_spawn(I, N, A, Me) ->
    P = spawn(fun() -> fj_worker(A, N, Me) end),
    P ! I,
    fj_spawn(I + 1, N, A, Me).

fj_worker(A, N, Me) ->
    receive
        I ->
            S = math:sin(37.2 + 1.0e-12 * I),
            R = S * S,
            if R > 1.5 -> erlang:error(sin_squared); true -> ok end,
            atomics:add(A, 2, I),
            case atomics:add_get(A, 1, 1) of
                N -> Me ! fj_done;
                _ -> ok
            end
    end.
