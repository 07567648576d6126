%% The Erlang/OTP side of bench/: W1-W6 written as the tasklet
%% peers run them (same counts), so that Erlang's figures can be measured on
%% the same machine in the same hour as the JVM suite. W5/W6 use a second
%% node started with OTP's `peer` module (distributed Erlang over TCP on this
%% host). Run by bench/erlang/run.sh [scale]; prints one Clojure map.
-module(erl_peer).
-export([main/1, echo/0, sink/2]).

-define(RUNS, 3).

%% Scale (a string, "1.0" for the full counts) multiplies every count.
main(Scale) ->
    put(scale, list_to_float(Scale)),
    {W1c, W1b, W1e} = median3_of(fun w1/0),
    {W3c, W3h} = median2_of(fun w3/0),
    W2 = median_of(fun w2/0),
    W4 = median_of(fun w4/0),
    {ok, Peer, Node} = peer:start_link(#{name => erl_peer_b,
                                         args => ["-setcookie", atom_to_list(erlang:get_cookie()),
                                                  "-pa", filename:dirname(code:which(?MODULE))]}),
    W5 = median_of(fun() -> w5(Node) end),
    W6 = median_of(fun() -> w6(Node) end),
    io:format("{:otp ~p :W1-create-ms ~p :W1-bytes-per ~p :W1-end-ms ~p :W2-rt-per-s ~p"
              " :W3-create-ms ~p :W3-hops-per-s ~p :W4-msgs-per-s ~p :W5-rt-per-s ~p :W6-msgs-per-s ~p}~n",
              [list_to_integer(erlang:system_info(otp_release)), W1c, W1b, W1e, W2, W3c, W3h, W4, W5, W6]),
    peer:stop(Peer),
    halt(0).

%% a warm-up run, then the median of RUNS runs
median_of(F) ->
    _ = F(),
    Xs = lists:sort([F() || _ <- lists:seq(1, ?RUNS)]),
    round(lists:nth((?RUNS + 1) div 2, Xs)).

%% the same for a workload with several figures: the median of each
median3_of(F) ->
    _ = F(),
    Rs = [F() || _ <- lists:seq(1, ?RUNS)],
    {med([A || {A, _, _} <- Rs]), med([B || {_, B, _} <- Rs]), med([C || {_, _, C} <- Rs])}.

median2_of(F) ->
    _ = F(),
    Rs = [F() || _ <- lists:seq(1, ?RUNS)],
    {med([A || {A, _} <- Rs]), med([B || {_, B} <- Rs])}.

med(Xs) -> lists:nth((length(Xs) + 1) div 2, lists:sort(Xs)).

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
    {(T1 - T0) / 1000, round(Bytes), (T2 - T1) / 1000}.

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
    {(T1 - T0) / 1000, Hops * 1000000 / max(T2 - T1, 1)}.

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
    per_s(N, T).

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
    per_s(S * N, T).

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
    per_s(N, T).

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
    per_s(N, T).

sink(0, ReplyTo) -> ReplyTo ! done;
sink(K, ReplyTo) -> receive _ -> sink(K - 1, ReplyTo) end.
