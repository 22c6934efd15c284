package dev.wudi.cli;

import dev.wudi.checkpoint.ShardPlan;
import dev.wudi.format.DType;
import dev.wudi.spec.RestPolicy;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import picocli.CommandLine;

/** picocli converters: a bad value is a usage error (exit 2) with a message saying what is accepted. */
final class Converters {

    private Converters() {
    }

    static final class Regex implements CommandLine.ITypeConverter<Pattern> {
        @Override
        public Pattern convert(String value) {
            try {
                return Pattern.compile(value);
            } catch (PatternSyntaxException e) {
                throw new CommandLine.TypeConversionException("invalid regular expression '" + value + "': "
                        + e.getDescription());
            }
        }
    }

    static final class OutDType implements CommandLine.ITypeConverter<DType> {
        @Override
        public DType convert(String value) {
            try {
                return DType.parseUser(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    static final class Rest implements CommandLine.ITypeConverter<RestPolicy> {
        @Override
        public RestPolicy convert(String value) {
            try {
                return RestPolicy.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    static final class Size implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return ShardPlan.parseSize(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
