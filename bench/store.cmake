# mq-bench-store: store append throughput (fdatasync per record, group
# commit, not durable), replay time for 1,000,000 records, RSS after replay.
# Included from bench/CMakeLists.txt; run `<build>/mq-bench-store [--dir DIR]`.
add_executable(mq-bench-store ${CMAKE_CURRENT_LIST_DIR}/store_bench.c)
target_link_libraries(mq-bench-store PRIVATE mqhost)
set_target_properties(mq-bench-store PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR})
