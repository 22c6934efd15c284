package dev.wudi.config;

import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.reader.StreamReader;

/**
 * SnakeYAML's character reader over a text held whole, so that scanning is linear in the text's length.
 *
 * <p>Why: SnakeYAML's own StreamReader refills a look-ahead window 1,024 characters at a time and copies the whole
 * window on every refill; while the scanner looks ahead through one long token (a comment line, a plain or quoted
 * scalar) without consuming it, the window grows and each refill copies it again, so a token of n characters costs
 * about n^2 / 2048 copies (a 20 MB comment line: some 10^11, over a minute). Here every look-ahead is an array
 * read and nothing is copied. The behaviour is the StreamReader's: the same positions (index, line, column; a CR
 * not followed by LF ends a line, a BOM takes no column), the same NUL past the end, the same refusal of characters
 * YAML does not allow (checked once, up front, with the line).
 */
final class WholeTextReader extends StreamReader {

    private final String name;
    private final int[] text;
    private int pointer;
    private int line;
    private int column;
    private int documentIndex;
    /** Characters looked at or moved over, the measure of the scanner's work (tests show it is linear). */
    private long work;

    /**
     * @param name the file, for messages
     * @throws ConfigException naming the line of a character YAML does not allow (control characters, lone
     *                         surrogates)
     */
    WholeTextReader(String name, String text) {
        super("");
        this.name = name;
        this.text = text.codePoints().toArray();
        int l = 1;
        for (int i = 0; i < this.text.length; i++) {
            int c = this.text[i];
            if (!StreamReader.isPrintable(c)) {
                throw new ConfigException(name + ":" + l + ": the character U+" + String.format("%04X", c)
                        + " is not allowed in YAML (a binary file, or text in another encoding than UTF-8?)");
            }
            if (c == '\n') {
                l++;
            }
        }
    }

    /** Characters looked at or moved over so far. */
    long work() {
        return work;
    }

    @Override
    public Mark getMark() {
        return new Mark(name, pointer, line, column, text, pointer);
    }

    @Override
    public void forward() {
        forward(1);
    }

    @Override
    public void forward(int length) {
        for (int i = 0; i < length && pointer < text.length; i++) {
            int c = text[pointer++];
            documentIndex++;
            work++;
            if (c == '\n' || c == 0x85 || c == 0x2028 || c == 0x2029
                    || (c == '\r' && pointer < text.length && text[pointer] != '\n')) {
                line++;
                column = 0;
            } else if (c != 0xFEFF) {
                column++;
            }
        }
    }

    @Override
    public int peek() {
        return peek(0);
    }

    @Override
    public int peek(int index) {
        work++;
        int at = pointer + index;
        return at >= 0 && at < text.length ? text[at] : '\0';
    }

    @Override
    public String prefix(int length) {
        int n = Math.min(length, text.length - pointer);
        if (n <= 0) {
            return "";
        }
        work += n;
        return new String(text, pointer, n);
    }

    @Override
    public String prefixForward(int length) {
        String s = prefix(length);
        pointer += length;
        documentIndex += length;
        column += length;
        return s;
    }

    @Override
    public int getColumn() {
        return column;
    }

    @Override
    public int getDocumentIndex() {
        return documentIndex;
    }

    @Override
    public void resetDocumentIndex() {
        documentIndex = 0;
    }

    @Override
    public int getIndex() {
        return pointer;
    }

    @Override
    public int getLine() {
        return line;
    }
}
