%% The figure bench/core compares `call` with: sequential GenServer.call (the Elixir seed's
%% call) on this machine. Run by bench/core when `erlc` and `erl` are installed:
%%   erlc -o /tmp bench/genserver_bench.erl && erl -noshell -pa /tmp -s genserver_bench main 300000 -s init stop
-module(genserver_bench).
-behaviour(gen_server).
-export([main/1, init/1, handle_call/3, handle_cast/2]).

init(N) -> {ok, N}.
handle_call(get_value, _From, N) -> {reply, N, N}.
handle_cast(add_one, N) -> {noreply, N + 1}.

loop(_Pid, 0) -> ok;
loop(Pid, K) -> gen_server:call(Pid, get_value), loop(Pid, K - 1).

main([CallsAtom]) ->
    Calls = list_to_integer(atom_to_list(CallsAtom)),
    {ok, Pid} = gen_server:start(?MODULE, 0, []),
    loop(Pid, 50000),
    T0 = erlang:monotonic_time(microsecond),
    loop(Pid, Calls),
    T1 = erlang:monotonic_time(microsecond),
    io:format("~p~n", [round(Calls * 1000000 / (T1 - T0))]).
