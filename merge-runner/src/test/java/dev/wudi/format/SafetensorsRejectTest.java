package dev.wudi.format;

import dev.wudi.format.SafetensorsException.Kind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One test per failure kind, each on bytes made by hand. */
class SafetensorsRejectTest {

    @TempDir
    Path dir;

    private int files;

    // ---------------------------------------------------------------- hand-made bytes

    /** 8-byte little-endian length, written byte by byte. */
    private static byte[] le64(long n) {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (n >>> (8 * i));
        }
        return b;
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** A file whose header is the given JSON (its true length) followed by dataBytes bytes 0xAB. */
    private static byte[] file(String json, int dataBytes) {
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        byte[] data = new byte[dataBytes];
        java.util.Arrays.fill(data, (byte) 0xAB);
        return concat(le64(header.length), header, data);
    }

    private static String f32(String name, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    /** Writes content, opens it, and checks the failure's kind and that it names the file and tensor. */
    private SafetensorsException rejected(Kind kind, String tensor, byte[] content) throws IOException {
        Path p = dir.resolve("case" + (files++) + "-" + kind.name().toLowerCase(Locale.ROOT) + ".safetensors");
        Files.write(p, content);
        SafetensorsException e = assertThrows(SafetensorsException.class, () -> SafetensorsFile.open(p).close());
        assertEquals(kind, e.kind(), e::getMessage);
        assertTrue(e.getMessage().contains(p.getFileName().toString()), e::getMessage);
        assertEquals(p, e.file());
        if (tensor != null) {
            assertTrue(e.getMessage().contains(tensor), e::getMessage);
        }
        return e;
    }

    // ---------------------------------------------------------------- one test per kind, in check order

    @Test
    void headerTooSmall() throws IOException {
        rejected(Kind.HEADER_TOO_SMALL, null, new byte[0]);
        rejected(Kind.HEADER_TOO_SMALL, null, new byte[]{2, 0, 0, 0, 0, 0, 0});
    }

    @Test
    void headerTooLarge() throws IOException {
        rejected(Kind.HEADER_TOO_LARGE, null, le64(100_000_001L));
        // a u64 above 2^63 must not pass as a negative long
        rejected(Kind.HEADER_TOO_LARGE, null, concat(le64(-1L), "{}".getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void headerBeyondFile() throws IOException {
        rejected(Kind.HEADER_BEYOND_FILE, null, concat(le64(100), "{}".getBytes(StandardCharsets.US_ASCII)));
        rejected(Kind.HEADER_BEYOND_FILE, null, le64(1));
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[] header = {'{', '"', 'a', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'}; // 0xC3 0x28: broken pair
        rejected(Kind.HEADER_NOT_UTF8, null, concat(le64(header.length), header));
        byte[] lone = {'{', '}', (byte) 0xFF};
        rejected(Kind.HEADER_NOT_UTF8, null, concat(le64(lone.length), lone));
    }

    @Test
    void headerNotJson() throws IOException {
        rejected(Kind.HEADER_NOT_JSON, null, file("{\"a\":", 0));
        rejected(Kind.HEADER_NOT_JSON, null, file("[1,2]", 0));
        rejected(Kind.HEADER_NOT_JSON, null, file("{} {}", 0));
        rejected(Kind.HEADER_NOT_JSON, null, file("", 0));
        rejected(Kind.HEADER_NOT_JSON, null, file("   ", 0));
        rejected(Kind.HEADER_NOT_JSON, null, file("\"text\"", 0));
    }

    @Test
    void badMetadata() throws IOException {
        rejected(Kind.BAD_METADATA, null, file("{\"__metadata__\":{\"format\":1}}", 0));
        rejected(Kind.BAD_METADATA, null, file("{\"__metadata__\":\"pt\"}", 0));
        rejected(Kind.BAD_METADATA, null, file("{\"__metadata__\":{\"a\":null}}", 0));
        // metadata is checked before duplicates
        rejected(Kind.BAD_METADATA, null, file("{\"__metadata__\":[]," + f32("w", "[1]", 0, 4) + ","
                + f32("w", "[1]", 0, 4) + "}", 4));
    }

    @Test
    void duplicateName() throws IOException {
        SafetensorsException e = rejected(Kind.DUPLICATE_NAME, "layer.twice",
                file("{" + f32("layer.twice", "[1]", 0, 4) + "," + f32("layer.twice", "[1]", 4, 8) + "}", 8));
        assertEquals("layer.twice", e.tensor());
        // a key repeated inside an entry is as ambiguous
        e = rejected(Kind.DUPLICATE_NAME, "'w'",
                file("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
        assertTrue(e.getMessage().contains("'dtype'"), e::getMessage);
    }

    @Test
    void badDtype() throws IOException {
        SafetensorsException e = rejected(Kind.BAD_DTYPE, "enc.w",
                file("{\"enc.w\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
        assertTrue(e.getMessage().contains("F31"), e::getMessage);
        assertEquals("enc.w", e.tensor());
        rejected(Kind.BAD_DTYPE, "w", file("{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
        rejected(Kind.BAD_DTYPE, "w", file("{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
        rejected(Kind.BAD_DTYPE, "w", file("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4));
        // dtype is checked before the offsets of the same entry
        rejected(Kind.BAD_DTYPE, "w", file("{\"w\":{\"dtype\":\"X\",\"shape\":[1],\"data_offsets\":[9,0]}}", 4));
    }

    @Test
    void badShape() throws IOException {
        rejected(Kind.BAD_SHAPE, "w", file("{" + f32("w", "[-1]", 0, 4) + "}", 4));
        rejected(Kind.BAD_SHAPE, "w", file("{" + f32("w", "[1.5]", 0, 4) + "}", 4));
        rejected(Kind.BAD_SHAPE, "w", file("{" + f32("w", "[\"1\"]", 0, 4) + "}", 4));
        rejected(Kind.BAD_SHAPE, "w", file("{" + f32("w", "4", 0, 4) + "}", 4));
        rejected(Kind.BAD_SHAPE, "w", file("{" + f32("w", "[18446744073709551616]", 0, 4) + "}", 4));
        rejected(Kind.BAD_SHAPE, "w", file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4));
        // an entry that is not an object, or has keys beyond the three, is misshapen too
        rejected(Kind.BAD_SHAPE, "w", file("{\"w\":[0,4]}", 4));
        rejected(Kind.BAD_SHAPE, "w",
                file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}", 4));
    }

    @Test
    void sizeOverflow() throws IOException {
        // 2^62 elements of 4 bytes: the element count fits a long, the byte size does not
        rejected(Kind.SIZE_OVERFLOW, "huge", file("{" + f32("huge", "[4611686018427387904]", 0, 4) + "}", 4));
        rejected(Kind.SIZE_OVERFLOW, "huge", file("{" + f32("huge", "[4294967296,4294967296]", 0, 4) + "}", 4));
    }

    @Test
    void badOffsets() throws IOException {
        rejected(Kind.BAD_OFFSETS, "w", file("{" + f32("w", "[1]", 8, 4) + "}", 8));          // begin > end
        rejected(Kind.BAD_OFFSETS, "w", file("{" + f32("w", "[4]", 0, 16) + "}", 8));         // past the data
        rejected(Kind.BAD_OFFSETS, "w", file("{" + f32("w", "[1]", -4, 0) + "}", 4));         // negative
        rejected(Kind.BAD_OFFSETS, "w",
                file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4));
        rejected(Kind.BAD_OFFSETS, "w",
                file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4));
        rejected(Kind.BAD_OFFSETS, "w", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4));
        rejected(Kind.BAD_OFFSETS, "w",
                file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", 4));
    }

    @Test
    void sizeMismatch() throws IOException {
        SafetensorsException e = rejected(Kind.SIZE_MISMATCH, "w", file("{" + f32("w", "[2]", 0, 4) + "}", 4));
        assertTrue(e.getMessage().contains("8"), e::getMessage);
        rejected(Kind.SIZE_MISMATCH, "z", file("{" + f32("z", "[0,5]", 0, 4) + "}", 4));
    }

    @Test
    void overlappingOffsets() throws IOException {
        rejected(Kind.OVERLAPPING_OFFSETS, "b",
                file("{" + f32("a", "[2]", 0, 8) + "," + f32("b", "[2]", 4, 12) + "}", 12));
        // the same range twice
        rejected(Kind.OVERLAPPING_OFFSETS, null,
                file("{" + f32("a", "[1]", 0, 4) + "," + f32("b", "[1]", 0, 4) + "}", 4));
        // a zero-size tensor inside another's bytes
        rejected(Kind.OVERLAPPING_OFFSETS, "z",
                file("{" + f32("a", "[2]", 0, 8) + "," + f32("z", "[0]", 4, 4) + "}", 8));
    }

    @Test
    void holeInData() throws IOException {
        rejected(Kind.HOLE_IN_DATA, "b",
                file("{" + f32("a", "[1]", 0, 4) + "," + f32("b", "[1]", 8, 12) + "}", 12));
        rejected(Kind.HOLE_IN_DATA, "a", file("{" + f32("a", "[1]", 4, 8) + "}", 8)); // does not start at 0
    }

    @Test
    void dataNotAtEnd() throws IOException {
        rejected(Kind.DATA_NOT_AT_END, null, file("{" + f32("a", "[1]", 0, 4) + "}", 8));
        rejected(Kind.DATA_NOT_AT_END, null, file("{}", 1));
    }

    @Test
    void tensorNotFound() throws IOException {
        Path p = dir.resolve("one.safetensors");
        Files.write(p, file("{" + f32("present", "[1]", 0, 4) + "}", 4));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            SafetensorsException e = assertThrows(SafetensorsException.class, () -> f.tensor("absent.weight"));
            assertEquals(Kind.TENSOR_NOT_FOUND, e.kind());
            assertTrue(e.getMessage().contains("one.safetensors") && e.getMessage().contains("absent.weight"),
                    e::getMessage);
        }
    }

    // ---------------------------------------------------------------- valid corner cases

    @Test
    void acceptsPaddingEmptyHeaderAndZeroSizeTensors() throws IOException {
        Path empty = dir.resolve("empty.safetensors");
        Files.write(empty, file("{}", 0));
        try (SafetensorsFile f = SafetensorsFile.open(empty)) {
            assertTrue(f.tensors().isEmpty());
            assertTrue(f.metadata().isEmpty());
        }

        Path padded = dir.resolve("padded.safetensors");
        String json = "{" + f32("z", "[0]", 0, 0) + "," + f32("a", "[1]", 0, 4) + "," + f32("y", "[3,0]", 4, 4)
                + "," + f32("b", "[1]", 4, 8) + "," + f32("x", "[0]", 8, 8) + "}      ";
        Files.write(padded, file(json, 8));
        try (SafetensorsFile f = SafetensorsFile.open(padded)) {
            assertEquals(java.util.List.of("z", "a", "y", "b", "x"),
                    f.tensors().stream().map(TensorInfo::name).toList());
            assertEquals(0, f.tensor("y").numel());
        }
    }
}
