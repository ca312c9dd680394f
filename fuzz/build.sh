#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/Targets/*.swift) against the library sources with swiftc, into
# .build/fuzz/, instrumented for libFuzzer and AddressSanitizer. `swift build` and `swift test` never see
# this folder. Usage: fuzz/build.sh [TARGET…]   (targets: graph-parser safetensors config images; default all)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/.build/fuzz
mkdir -p "$out"
sanitize=(-sanitize=fuzzer,address)
swiftflags=(-O -wmo -parse-as-library -g -swift-version 6 -suppress-warnings "${sanitize[@]}" -I "$out")

yams=$root/.build/checkouts/Yams
ensure_yams() {
    if [[ ! -d $yams/Sources/Yams ]]; then swift package resolve >/dev/null; fi
}

# module NAME DIR "DEPENDENCIES" [EXTRA SWIFTC FLAGS…]: one object and one .swiftmodule per library module,
# rebuilt when one of its sources, or a module it imports, is newer than its object.
module() {
    local name=$1 dir=$2 dependencies=$3; shift 3
    local object=$out/$name.o changed="" dependency
    if [[ -f $object ]]; then
        changed=$(find "$dir" -name '*.swift' -newer "$object" | head -1)
        for dependency in $dependencies; do
            [[ $out/$dependency.o -nt $object ]] && changed=$dependency
        done
        [[ -n $changed ]] || return 0
    fi
    echo "compiling $name" >&2
    mapfile -t sources < <(find "$dir" -name '*.swift' | sort)
    swiftc "${swiftflags[@]}" -module-name "$name" -emit-module-path "$out/$name.swiftmodule" \
        -emit-object -o "$object" "$@" "${sources[@]}"
}

cyaml() {
    ensure_yams
    local c=$yams/Sources/CYaml
    if [[ ! -f $out/CYaml.a ]]; then
        echo "compiling CYaml" >&2
        for f in "$c"/src/*.c; do
            clang -O1 -g -fsanitize=fuzzer-no-link,address -DYAML_DECLARE_EXPORT -I "$c/include" -c "$f" \
                -o "$out/cyaml_$(basename "$f" .c).o"
        done
        ar rcs "$out/CYaml.a" "$out"/cyaml_*.o
    fi
}

# target NAME SOURCE OBJECTS… -- LINK FLAGS…
target() {
    local name=$1 source=$2; shift 2
    echo "linking fuzz-$name" >&2
    # gold warns about every ASan helper symbol it cannot export; nothing else is hidden.
    swiftc "${swiftflags[@]}" -module-name "Fuzz${name//-/}" "$source" "$@" -o "$out/fuzz-$name" 2>&1 \
        | { grep -v "ld.gold: warning: Cannot export local symbol" || true; } >&2
}

build() {
    case $1 in
    graph-parser)
        module GraphIR Sources/GraphIR ""
        target graph-parser fuzz/Targets/GraphParser.swift "$out/GraphIR.o" ;;
    safetensors)
        module GraphIR Sources/GraphIR ""
        target safetensors fuzz/Targets/Safetensors.swift "$out/GraphIR.o" ;;
    config)
        cyaml
        module GraphIR Sources/GraphIR ""
        module Yams "$yams/Sources/Yams" "" -swift-version 5 -DSWIFT_PACKAGE -Xcc -I"$yams/Sources/CYaml/include"
        module Passes Sources/Passes GraphIR
        module MUNITGraphs Sources/MUNITGraphs "GraphIR Passes Yams" -Xcc -I"$yams/Sources/CYaml/include"
        target config fuzz/Targets/Config.swift -Xcc -I"$yams/Sources/CYaml/include" \
            "$out/MUNITGraphs.o" "$out/Passes.o" "$out/Yams.o" "$out/GraphIR.o" "$out/CYaml.a" ;;
    images)
        module GraphIR Sources/GraphIR ""
        module ImageIO Sources/ImageIO GraphIR -I Sources/CJPEG -I Sources/CPNG
        target images fuzz/Targets/Images.swift -I Sources/CJPEG -I Sources/CPNG \
            "$out/ImageIO.o" "$out/GraphIR.o" -lpng16 -ljpeg ;;
    *) echo "unknown fuzz target '$1' (graph-parser, safetensors, config, images)" >&2; exit 2 ;;
    esac
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(graph-parser safetensors config images)
for t in "${targets[@]}"; do build "$t"; done
echo "built: ${targets[*]/#/$out/fuzz-}" >&2
