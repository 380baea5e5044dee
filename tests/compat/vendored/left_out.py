"""The vendored tests the adapters fail on purpose, each with why (README.md says the same
by group).  Read by conftest.py, which marks each one skipped with its reason."""

from __future__ import annotations

_WHY: dict[str, str] = {
    "logs": (
        "counts every log record: tether's own lines (retrying, giving up, a circuit or "
        "health change, on the tether logger) stay beside backoff's, logger=None silencing "
        "backoff's alone (docs/migrating.md)"
    ),
    "max_time": (
        "drives max_time with a patched datetime.datetime.now and wants backoff's last "
        "shortened wait: max_time is tether's deadline, on the policy's clock, which starts "
        "no wait that would end past it (docs/migrating.md)"
    ),
    "loop": (
        "uses Retrying or AsyncRetrying as a loop object (called with a function, iterated, a"
        " context manager, subclassed, its repr or .retry): the adapter translates the @retry"
        " decorator alone, onto tether's loop"
    ),
    "stats": (
        "reads .statistics: the adapter keeps none (tether's hooks, logs and metrics say what"
        " a call did)"
    ),
    "state": (
        "calls a stop, wait or retry strategy with a RetryCallState it builds, or reads a "
        "strategy's inside: the adapter's strategies become one tether RetryPolicy and are "
        "never called with a state"
    ),
    "fnstate": (
        "gives retry= as a function of the retry state: refused when the function is "
        "decorated, saying what to use instead"
    ),
    "bare": (
        "a bare @retry on an exception tether's classification does not call worth a retry (a"
        " plain Exception, KeyError, NameError, an IOError without errno): the classification"
        " decides when no retry= is given"
    ),
    "enabled": (
        "enabled= (tenacity 9.2) is not translated: tether.testing switches retries off in tests"
    ),
    "stopall": (
        "stop_all (stop & stop): tether stops at the first limit reached, and refuses "
        "stop_all saying so"
    ),
    "pickle": ("pickles the adapter's strategies: they hold closures"),
    "nap": (
        "patches tenacity.nap: the adapter has no nap module (patch time.sleep, which it "
        "reads when each wait starts, or give sleep=)"
    ),
    "syncasync": (
        "a plain function given an async sleep= becomes a coroutine function in tenacity 9.2:"
        " the adapter keeps a plain function plain"
    ),
    "name": (
        "tenacity's own names for a Retrying's function in its log lines, from a Retrying "
        "built by hand"
    ),
    "jitter": (
        "wait_exponential_jitter's initial= renamed multiplier= (tenacity 9.1) is not "
        "followed: the adapter takes initial="
    ),
    "typing": (
        "typeguard's checks of tenacity's own annotations (typeguard is not installed here)"
    ),
    "trio": ("trio: the adapter runs on asyncio alone"),
}

_LEFT_OUT: dict[str, list[str]] = {
    "logs": [
        "backoff/test_backoff.py::test_event_log_levels[_on_exception_factory-10-30]",
        "backoff/test_backoff.py::test_event_log_levels[_on_exception_factory-20-30]",
        "backoff/test_backoff.py::test_event_log_levels[_on_exception_factory-30-30]",
        "backoff/test_backoff.py::test_event_log_levels[_on_exception_factory-40-30]",
        "backoff/test_backoff.py::test_event_log_levels[_on_exception_factory-50-30]",
        "backoff/test_backoff.py::test_event_log_levels[_on_predicate_factory-10-30]",
        "backoff/test_backoff.py::test_event_log_levels[_on_predicate_factory-20-30]",
        "backoff/test_backoff.py::test_event_log_levels[_on_predicate_factory-30-30]",
        "backoff/test_backoff.py::test_event_log_levels[_on_predicate_factory-40-30]",
        "backoff/test_backoff.py::test_event_log_levels[_on_predicate_factory-50-30]",
        "backoff/test_backoff.py::test_on_exception_logger_default",
        "backoff/test_backoff.py::test_on_exception_logger_none",
        "backoff/test_backoff.py::test_on_exception_logger_user",
        "backoff/test_backoff.py::test_on_exception_logger_user_str",
    ],
    "max_time": [
        "backoff/test_backoff.py::test_on_predicate_max_time",
        "backoff/test_backoff.py::test_on_predicate_max_time_callable",
    ],
    "loop": [
        "tenacity/test_asyncio.py::TestAsyncEnabled::test_enabled_false_aiter_raises_original_exception",
        "tenacity/test_asyncio.py::TestAsyncEnabled::test_enabled_false_aiter_succeeds_on_first_attempt",
        "tenacity/test_asyncio.py::TestAsyncio::test_repr",
        "tenacity/test_asyncio.py::TestAsyncio::test_retry_attributes",
        "tenacity/test_asyncio.py::TestAsyncio::test_retry_preserves_argument_defaults",
        "tenacity/test_asyncio.py::TestAsyncio::test_retry_using_async_retying",
        "tenacity/test_asyncio.py::TestContextManager::test_async_with_attempt_manager",
        "tenacity/test_asyncio.py::TestContextManager::test_do_max_attempts",
        "tenacity/test_asyncio.py::TestContextManager::test_reraise",
        "tenacity/test_asyncio.py::TestContextManager::test_reraise_try_again_with_cause",
        "tenacity/test_asyncio.py::TestContextManager::test_retry_with_async_exc",
        "tenacity/test_asyncio.py::TestContextManager::test_retry_with_async_result",
        "tenacity/test_asyncio.py::TestContextManager::test_retry_with_async_result_and",
        "tenacity/test_asyncio.py::TestContextManager::test_retry_with_async_result_or",
        "tenacity/test_asyncio.py::TestContextManager::test_retry_with_async_result_rand",
        "tenacity/test_asyncio.py::TestContextManager::test_retry_with_async_result_ror",
        "tenacity/test_asyncio.py::TestContextManager::test_retry_with_result",
        "tenacity/test_asyncio.py::TestContextManager::test_sleeps",
        "tenacity/test_tenacity.py::TestBase::test_retrying_repr",
        "tenacity/test_tenacity.py::TestBeforeAfterAttempts::test_before_sleep_log_raises",
        "tenacity/test_tenacity.py::TestBeforeAfterAttempts::test_before_sleep_log_raises_with_exc_info",
        "tenacity/test_tenacity.py::TestBeforeAfterAttempts::test_before_sleep_log_returns",
        "tenacity/test_tenacity.py::TestBeforeAfterAttempts::test_before_sleep_log_returns_with_exc_info",
        "tenacity/test_tenacity.py::TestDecoratorWrapper::test_retry_function_object",
        "tenacity/test_tenacity.py::TestDecoratorWrapper::test_retry_preserves_argument_defaults",
        "tenacity/test_tenacity.py::TestEnabled::test_enabled_false_iter_raises_original_exception",
        "tenacity/test_tenacity.py::TestEnabled::test_enabled_false_iter_succeeds_on_first_attempt",
        "tenacity/test_tenacity.py::TestInvokeAsCallable::test_on_error",
        "tenacity/test_tenacity.py::TestInvokeAsCallable::test_reraise",
        "tenacity/test_tenacity.py::TestInvokeAsCallable::test_retry_error",
        "tenacity/test_tenacity.py::TestInvokeAsCallable::test_retry_one",
        "tenacity/test_tenacity.py::TestPickle::test_retrying_picklable",
        "tenacity/test_tenacity.py::TestPickle::test_retrying_picklable_after_run",
        "tenacity/test_tenacity.py::TestPickle::test_retrying_pickle_round_trip_works",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_try_again",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_try_again_forever",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_try_again_forever_reraise",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_try_again_from_cause_reraise",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_try_again_with_cause_reraise",
        "tenacity/test_tenacity.py::TestRetryingName::test_get_fn_name_context_manager_no_name",
        "tenacity/test_tenacity.py::TestRetryingName::test_get_fn_name_context_manager_with_name",
        "tenacity/test_tenacity.py::TestRetryingName::test_str_default",
        "tenacity/test_tenacity.py::TestRetryingName::test_str_overridden_by_copy",
        "tenacity/test_tenacity.py::TestRetryingName::test_str_preserved_by_copy",
        "tenacity/test_tenacity.py::TestRetryingName::test_str_with_name",
        "tenacity/test_tenacity.py::TestStatistics::test_retry_object_statistics_during_execution",
        "tenacity/test_tenacity.py::TestStatistics::test_retry_object_statistics_synced",
        "tenacity/test_tenacity.py::TestStopConditions::test_legacy_explicit_stop_type",
        "tenacity/test_tenacity.py::TestStopConditions::test_never_stop",
        "tenacity/test_tenacity.py::TestStopConditions::test_stop_after_attempt",
        "tenacity/test_tenacity.py::TestStopConditions::test_stop_after_delay",
        "tenacity/test_tenacity.py::TestStopConditions::test_stop_before_delay",
        "tenacity/test_tenacity.py::TestStopConditions::test_stop_func_with_retry_state",
        "tenacity/test_tenacity.py::TestWaitConditions::test_exponential",
        "tenacity/test_tenacity.py::TestWaitConditions::test_exponential_caps_when_max_multiplier_ratio_underflows",
        "tenacity/test_tenacity.py::TestWaitConditions::test_exponential_skips_power_after_reaching_max",
        "tenacity/test_tenacity.py::TestWaitConditions::test_exponential_with_max_wait",
        "tenacity/test_tenacity.py::TestWaitConditions::test_exponential_with_max_wait_and_multiplier",
        "tenacity/test_tenacity.py::TestWaitConditions::test_exponential_with_min_wait",
        "tenacity/test_tenacity.py::TestWaitConditions::test_exponential_with_min_wait_and_multiplier",
        "tenacity/test_tenacity.py::TestWaitConditions::test_exponential_with_min_wait_andmax__wait",
        "tenacity/test_tenacity.py::TestWaitConditions::test_fixed_sleep",
        "tenacity/test_tenacity.py::TestWaitConditions::test_incrementing_sleep",
        "tenacity/test_tenacity.py::TestWaitConditions::test_legacy_explicit_wait_type",
        "tenacity/test_tenacity.py::TestWaitConditions::test_no_sleep",
        "tenacity/test_tenacity.py::TestWaitConditions::test_random_sleep",
        "tenacity/test_tenacity.py::TestWaitConditions::test_random_sleep_withoutmin_",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_arbitrary_sum",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_chain",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_chain_multiple_invocations",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_combine",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_double_sum",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_exception",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_func",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_retry_state_attributes",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_triple_sum",
    ],
    "stats": [
        "tenacity/test_asyncio.py::TestAsyncio::test_statistics_visible_through_outer_decorator",
        "tenacity/test_tenacity.py::TestDecoratorWrapper::test_retry_function_attributes",
        "tenacity/test_tenacity.py::TestDecoratorWrapper::test_retry_if_not_exception_message",
        "tenacity/test_tenacity.py::TestDecoratorWrapper::test_retry_if_not_exception_message_match",
        "tenacity/test_tenacity.py::TestDecoratorWrapper::test_retry_until_exception_of_type_attempt_number",
        "tenacity/test_tenacity.py::TestDecoratorWrapper::test_retry_until_exception_of_type_no_type",
        "tenacity/test_tenacity.py::TestStatistics::test_stats",
        "tenacity/test_tenacity.py::TestStatistics::test_stats_failing",
        "tenacity/test_tenacity.py::TestStatisticsKeys::test_delay_since_first_attempt_available_on_first_attempt",
        "tenacity/test_tenacity.py::TestStatisticsKeys::test_statistics_visible_through_outer_decorator",
    ],
    "state": [
        "tenacity/test_tenacity.py::TestBase::test_callstate_repr",
        "tenacity/test_tenacity.py::TestContextManager::test_context_manager_on_error",
        "tenacity/test_tenacity.py::TestContextManager::test_context_manager_reraise",
        "tenacity/test_tenacity.py::TestContextManager::test_context_manager_retry_error",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_all",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_and",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_and_coalesces",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_any",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_if_exception_message_empty_message",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_if_not_exception_message_empty_message",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_if_not_result",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_if_result",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_or",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_or_coalesces",
        "tenacity/test_tenacity.py::TestStopConditions::test_stop_any",
        "tenacity/test_tenacity.py::TestStopConditions::test_stop_or",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_random_exponential",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_random_exponential_statistically",
    ],
    "fnstate": [
        "tenacity/test_tenacity.py::TestReraiseExceptions::test_reraise_no_exception",
        "tenacity/test_tenacity.py::TestReraiseExceptions::test_reraise_timeout_from_retry_error",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_and_with_plain_function",
        "tenacity/test_tenacity.py::TestRetryConditions::test_retry_or_with_plain_function",
    ],
    "bare": [
        "tenacity/test_asyncio.py::TestAsyncio::test_attempt_number_is_correct_for_interleaved_coroutines",
        "tenacity/test_asyncio.py::TestAsyncio::test_retry",
        "tenacity/test_asyncio.py::TestAsyncio::test_stop_after_attempt",
        "tenacity/test_asyncio.py::TestDecoratorWrapper::test_retry_function_attributes",
        "tenacity/test_tenacity.py::TestBeforeAfterAttempts::test_after_attempts",
        "tenacity/test_tenacity.py::TestBeforeAfterAttempts::test_before_sleep",
        "tenacity/test_tenacity.py::TestDecoratorWrapper::test_defaults",
        "tenacity/test_tenacity.py::TestReraiseExceptions::test_reraise_by_default",
        "tenacity/test_tenacity.py::TestReraiseExceptions::test_reraise_from_retry_error",
        "tenacity/test_tenacity.py::TestRetryErrorCallback::test_retry_error_callback",
        "tenacity/test_tenacity.py::TestRetryWith::test_retry_error_callback_should_be_preserved",
        "tenacity/test_tenacity.py::TestRetryWith::test_retry_error_cls_should_be_preserved",
    ],
    "enabled": [
        "tenacity/test_asyncio.py::TestAsyncEnabled::test_enabled_false_skips_retry",
        "tenacity/test_tenacity.py::TestEnabled::test_enabled_false_preserves_attributes",
        "tenacity/test_tenacity.py::TestEnabled::test_enabled_false_skips_retry",
        "tenacity/test_tenacity.py::TestEnabled::test_enabled_false_via_retry_with",
        "tenacity/test_tenacity.py::TestEnabled::test_enabled_true_retries_normally",
    ],
    "stopall": [
        "tenacity/test_tenacity.py::TestStopConditions::test_stop_all",
        "tenacity/test_tenacity.py::TestStopConditions::test_stop_and",
    ],
    "pickle": [
        "tenacity/test_tenacity.py::TestPickle::test_retry_strategies_picklable",
    ],
    "nap": [
        "tenacity/test_tenacity.py::TestMockingSleep::test_decorated",
        "tenacity/test_tenacity.py::TestMockingSleep::test_decorated_retry_with",
    ],
    "syncasync": [
        "tenacity/test_asyncio.py::TestSyncFunctionWithAsyncSleep::test_sync_function_with_async_sleep",
    ],
    "name": [
        "tenacity/test_tenacity.py::TestRetryingName::test_get_fn_name_decorator",
        "tenacity/test_tenacity.py::TestRetryingName::test_logging_uses_name",
    ],
    "jitter": [
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_exponential_jitter",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_exponential_jitter_initial_and_multiplier_raises",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_exponential_jitter_initial_deprecated",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_exponential_jitter_min",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_exponential_jitter_multiplier",
        "tenacity/test_tenacity.py::TestWaitConditions::test_wait_exponential_jitter_timedelta",
    ],
    "typing": [
        "tenacity/test_tenacity.py::TestRetryTyping::test_retry_type_annotations",
    ],
    "trio": [
        "tenacity/test_asyncio.py::TestTrio::test_trio_basic",
    ],
}


def left_out() -> dict[str, str]:
    """Each left-out test's id (under tests/compat/vendored/) and why."""
    return {test: _WHY[group] for group, tests in _LEFT_OUT.items() for test in tests}
