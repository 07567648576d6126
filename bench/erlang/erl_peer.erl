%% The Erlang/OTP side of bench/: W2, W4, W5 and W6 written as the tasklet
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
    W2 = median_of(fun w2/0),
    W4 = median_of(fun w4/0),
    {ok, Peer, Node} = peer:start_link(#{name => erl_peer_b,
                                         args => ["-setcookie", atom_to_list(erlang:get_cookie()),
                                                  "-pa", filename:dirname(code:which(?MODULE))]}),
    W5 = median_of(fun() -> w5(Node) end),
    W6 = median_of(fun() -> w6(Node) end),
    io:format("{:otp ~p :W2-rt-per-s ~p :W4-msgs-per-s ~p :W5-rt-per-s ~p :W6-msgs-per-s ~p}~n",
              [list_to_integer(erlang:system_info(otp_release)), W2, W4, W5, W6]),
    peer:stop(Peer),
    halt(0).

%% a warm-up run, then the median of RUNS runs
median_of(F) ->
    _ = F(),
    Xs = lists:sort([F() || _ <- lists:seq(1, ?RUNS)]),
    round(lists:nth((?RUNS + 1) div 2, Xs)).

per_s(N, Micros) -> N * 1000000 / max(Micros, 1).

scaled(N) -> max(1, round(N * get(scale))).

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
