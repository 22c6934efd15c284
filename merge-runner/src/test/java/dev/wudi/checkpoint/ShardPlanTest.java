package dev.wudi.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.wudi.format.DType;
import dev.wudi.format.SafetensorsWriter.TensorSpec;
import java.util.List;
import org.junit.jupiter.api.Test;

class ShardPlanTest {

    private static TensorSpec spec(String name, long floats) {
        return new TensorSpec(name, DType.F32, new long[] {floats});
    }

    @Test
    void splitsInOrderAndGivesOversizedTensorsTheirOwnShard() {
        ShardPlan p = ShardPlan.of(List.of(spec("a", 100), spec("b", 100), spec("c", 1000), spec("d", 10)), 800);
        assertEquals(3, p.count());
        assertEquals(List.of("a", "b"), p.shards().get(0).stream().map(TensorSpec::name).toList());
        assertEquals(List.of("c"), p.shards().get(1).stream().map(TensorSpec::name).toList());
        assertEquals(List.of("d"), p.shards().get(2).stream().map(TensorSpec::name).toList());
        assertEquals("model-00002-of-00003.safetensors", p.fileName(1));
    }

    @Test
    void oneShardIsModelSafetensors() {
        ShardPlan p = ShardPlan.of(List.of(spec("a", 1), spec("b", 1)), 1000);
        assertEquals(1, p.count());
        assertEquals("model.safetensors", p.fileName(0));
    }

    @Test
    void parsesSizes() {
        assertEquals(5_000_000_000L, ShardPlan.parseSize("5GB"));
        assertEquals(2L << 30, ShardPlan.parseSize("2GiB"));
        assertEquals(500_000_000L, ShardPlan.parseSize("500 MB"));
        assertEquals(1234L, ShardPlan.parseSize("1234"));
        assertEquals(1_500_000L, ShardPlan.parseSize("1.5mb"));
        assertThrows(IllegalArgumentException.class, () -> ShardPlan.parseSize("big"));
        assertThrows(IllegalArgumentException.class, () -> ShardPlan.parseSize("-1GB"));
        assertThrows(IllegalArgumentException.class, () -> ShardPlan.parseSize("0"));
    }
}
