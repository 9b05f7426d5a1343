# The BEAM reference of bench/core: the Elixir original's own mechanism on this machine.
#
#   elixir bench/beam_sessions.exs [sessions] [calls] [casts] [storm]
#
# As Phoenix.SessionProcess does it: a unique `Registry`, a `DynamicSupervisor`, and one
# `GenServer` per session, always addressed by session ID through `{:via, Registry, {Reg, id}}`
# (a Registry lookup on every message, never a bare pid kept by the caller). bench/core runs this
# script itself and prints each figure beside ours; it writes one JSON object on stdout.
# Rates are per second; memory is in bytes.

defmodule Bench.Session do
  # The counter session (machines/counter.ts): get_value replies, add_one counts.
  use GenServer, restart: :temporary

  def start_link({id, timer_ms}),
    do: GenServer.start_link(__MODULE__, timer_ms, name: Bench.via(id))

  @impl true
  def init(nil), do: {:ok, 0}

  # The timer case: a pending timer per session, as the cart's reservation (`after`) holds one.
  def init({:at, deadline_ms}) do
    Process.send_after(self(), :expire, deadline_ms, abs: true)
    {:ok, 0}
  end

  def init(timer_ms) do
    Process.send_after(self(), :expire, timer_ms)
    {:ok, 0}
  end

  @impl true
  def handle_call(:get_value, _from, n), do: {:reply, n, n}

  @impl true
  def handle_cast(:add_one, n), do: {:noreply, n + 1}

  @impl true
  def handle_info(:expire, n), do: {:stop, :normal, n}
end

defmodule Bench do
  @reg Bench.Registry
  @sup Bench.Sup

  def via(id), do: {:via, Registry, {@reg, id}}

  def setup do
    {:ok, _} = Registry.start_link(keys: :unique, name: @reg)
    {:ok, _} = DynamicSupervisor.start_link(strategy: :one_for_one, name: @sup)
  end

  def ids(n), do: List.to_tuple(for i <- 0..(n - 1), do: "session-#{i}")

  def start_all(ids, timer_ms) do
    for i <- 0..(tuple_size(ids) - 1) do
      {:ok, _} = DynamicSupervisor.start_child(@sup, {Bench.Session, {elem(ids, i), timer_ms}})
    end

    :ok
  end

  # terminate_child takes a pid: look the session up by ID, as an app ending a session does.
  def terminate_all(ids) do
    for i <- 0..(tuple_size(ids) - 1) do
      [{pid, _}] = Registry.lookup(@reg, elem(ids, i))
      :ok = DynamicSupervisor.terminate_child(@sup, pid)
    end

    :ok
  end

  def calls(ids, spread, count), do: calls(ids, spread, count, 0)
  defp calls(_ids, _spread, count, count), do: :ok

  defp calls(ids, spread, count, k) do
    GenServer.call(via(elem(ids, rem(k, spread))), :get_value)
    calls(ids, spread, count, k + 1)
  end

  def casts(ids, count), do: casts(ids, tuple_size(ids), count, 0)
  defp casts(_ids, _n, count, count), do: :ok

  defp casts(ids, n, count, k) do
    GenServer.cast(via(elem(ids, rem(k, n))), :add_one)
    casts(ids, n, count, k + 1)
  end

  # A cast returns before the session handles it; the figure counts until every cast is handled:
  # no process is left runnable (every session's mailbox is empty).
  def drain do
    if :erlang.statistics(:total_run_queue_lengths_all) > 0 do
      Process.sleep(1)
      drain()
    else
      :ok
    end
  end

  # 1,000 calls in flight: 1,000 concurrent callers (the BEAM's way: a process per request), each
  # calling its own session in a loop.
  def in_flight(ids, callers, count) do
    per = div(count, callers)
    parent = self()

    for j <- 0..(callers - 1) do
      # Only the session's ID goes into the caller (not the whole ID tuple, which would be copied).
      id = elem(ids, j)

      spawn_link(fn ->
        for _ <- 1..per, do: GenServer.call(via(id), :get_value)
        send(parent, :done)
      end)
    end

    for _ <- 1..callers, do: receive(do: (:done -> :ok))
    per * callers
  end

  # Every process collected first (the supervisor's and the Registry's heaps shrink only then).
  def memory do
    for pid <- Process.list(), do: :erlang.garbage_collect(pid)
    %{processes: :erlang.memory(:processes), ets: :erlang.memory(:ets), total: :erlang.memory(:total)}
  end

  def time_s(fun) do
    t0 = System.monotonic_time(:microsecond)
    fun.()
    (System.monotonic_time(:microsecond) - t0) / 1_000_000
  end

  def rate(count, fun), do: count / time_s(fun)

  def percentile(sorted, p) do
    n = length(sorted)
    Enum.at(sorted, min(n - 1, trunc(Float.ceil(p * n)) - 1))
  end

  # 20,000 sessions whose timers fire at the same moment (one absolute deadline), while requests
  # for another session arrive on a schedule, one per millisecond (open loop, as in bench/core):
  # a request's latency runs from its scheduled arrival to its reply. Counted: the requests that
  # arrive from 100 ms before the deadline until the last storm session has ended.
  def storm(count) do
    storm_ids = List.to_tuple(for i <- 0..(count - 1), do: "storm-#{i}")
    {:ok, _} = DynamicSupervisor.start_child(@sup, {Bench.Session, {"storm-caller", nil}})
    t0 = System.monotonic_time(:millisecond)
    # Long enough that none fires while the others are still starting (measured on a first batch).
    start_all(List.to_tuple(for i <- 0..999, do: "storm-probe-#{i}"), nil)
    probe_ms = System.monotonic_time(:millisecond) - t0
    deadline = t0 + max(1000, probe_ms * div(count, 1000) * 3 + 200)
    start_all(storm_ids, {:at, deadline})
    parent = self()
    caller = spawn_link(fn -> send(parent, {:lat, arrivals((deadline - 100) * 1000, [])}) end)
    wait_gone(storm_ids, count)
    send(caller, :stop)
    lat = receive(do: ({:lat, l} -> l))
    sorted = Enum.sort(lat)

    %{
      sessions: count,
      calls: length(sorted),
      p50_ms: percentile(sorted, 0.5) / 1000,
      p99_ms: percentile(sorted, 0.99) / 1000,
      max_ms: List.last(sorted) / 1000
    }
  end

  defp arrivals(next_us, acc) do
    receive do
      :stop -> acc
    after
      0 ->
        now = System.monotonic_time(:microsecond)

        if now < next_us do
          Process.sleep(max(0, div(next_us - now, 1000)))
          arrivals(next_us, acc)
        else
          GenServer.call(via("storm-caller"), :get_value)
          arrivals(next_us + 1000, [System.monotonic_time(:microsecond) - next_us | acc])
        end
    end
  end

  defp wait_gone(ids, count) do
    alive = Enum.count(0..(count - 1), fn i -> Registry.lookup(@reg, elem(ids, i)) != [] end)

    if alive > 0 do
      Process.sleep(20)
      wait_gone(ids, count)
    end
  end

  # Elixir before 1.18 has no JSON module: numbers, strings and maps of them are all we print.
  def json(map) when is_map(map),
    do: "{" <> Enum.map_join(map, ",", fn {k, v} -> json(to_string(k)) <> ":" <> json(v) end) <> "}"

  def json(s) when is_binary(s), do: inspect(s)
  def json(n) when is_integer(n), do: Integer.to_string(n)
  def json(x) when is_float(x), do: Float.to_string(x)

  def main(argv) do
    [n, calls, casts, storm_n] =
      case argv do
        [a, b, c, d] -> Enum.map([a, b, c, d], &String.to_integer/1)
        [a] -> [String.to_integer(a), 200_000, 500_000, 20_000]
        [] -> [100_000, 200_000, 500_000, 20_000]
      end

    setup()
    ids = ids(n)

    # Warm-up: the code paths the figures use.
    warm = List.to_tuple(for i <- 0..999, do: "warm-#{i}")
    start_all(warm, nil)
    calls(warm, 1000, 20_000)
    terminate_all(warm)

    mem0 = memory()
    start = rate(n, fn -> start_all(ids, nil) end)
    mem1 = memory()
    cast = rate(casts, fn -> casts(ids, casts); drain() end)
    call_one = rate(calls, fn -> calls(ids, 1, calls) end)
    call_1000 = rate(calls, fn -> calls(ids, min(1000, n), calls) end)
    call_all = rate(calls, fn -> calls(ids, n, calls) end)
    t0 = System.monotonic_time(:microsecond)
    done = in_flight(ids, min(1000, n), calls)
    in_flight = done / ((System.monotonic_time(:microsecond) - t0) / 1_000_000)
    terminate = rate(n, fn -> terminate_all(ids) end)
    mem2 = memory()

    start_timer = rate(n, fn -> start_all(ids, 600_000) end)
    terminate_timer = rate(n, fn -> terminate_all(ids) end)

    storm = storm(storm_n)

    IO.puts(
      json(%{
        otp: System.otp_release(),
        elixir: System.version(),
        schedulers: System.schedulers_online(),
        sessions: n,
        start: start,
        memory_per_session: (mem1.processes - mem0.processes) / n,
        ets_per_session: (mem1.ets - mem0.ets) / n,
        total_per_session: (mem1.total - mem0.total) / n,
        memory_back_pct: (mem2.processes - mem0.processes) / mem0.processes * 100,
        cast: cast,
        call_one: call_one,
        call_1000: call_1000,
        call_all: call_all,
        in_flight: in_flight,
        terminate: terminate,
        start_timer: start_timer,
        terminate_timer: terminate_timer,
        storm: storm
      })
    )
  end
end

Bench.main(System.argv())
