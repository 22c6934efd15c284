package dev.wudi.hub;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Marks a test class (or method) that reads the third-party PEFT adapters of ../shared/fixtures/peft-real, which are
 * not part of this repository: where the folder is absent, every test of the class is reported as skipped with a
 * reason that names the folder, before any @BeforeAll runs (an assumption there would make the class vanish from
 * the counts instead).
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(NeedsPeftFixtures.Condition.class)
public @interface NeedsPeftFixtures {

    /** Disables the marked tests where {@link PeftFixtures#find()} finds nothing. */
    final class Condition implements ExecutionCondition {
        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            return PeftFixtures.find() != null ? ConditionEvaluationResult.enabled("peft-real found")
                    : ConditionEvaluationResult.disabled(PeftFixtures.ABSENT + " (looked in " + PeftFixtures.tried()
                    + ")");
        }
    }
}
