package io.tagtrail.embedded;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;

/**
 * One OpenSearch node with its modules and the k-NN plugin loaded as classpath plugins.
 *
 * <p>Going through {@link Node} directly (as OpenSearch's own test clusters do) skips the
 * bootstrap checks that refuse to run as root and need the security manager: the sessions
 * and CI that run tagtrail's tests run as root. Settings come from the command line as
 * {@code key=value} pairs; {@code path.home} is required.
 */
public final class EmbeddedNode extends Node {

    private static final List<String> PLUGIN_CLASSES = List.of(
        "org.opensearch.transport.Netty4Plugin",
        "org.opensearch.painless.PainlessPlugin",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "org.opensearch.index.reindex.ReindexPlugin",
        "org.opensearch.index.mapper.MapperExtrasPlugin",
        "org.opensearch.knn.plugin.KNNPlugin");

    private EmbeddedNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
        super(environment, plugins, true);
    }

    @SuppressWarnings("unchecked")
    private static Collection<Class<? extends Plugin>> plugins() throws ClassNotFoundException {
        Class<? extends Plugin>[] classes = new Class[PLUGIN_CLASSES.size()];
        for (int i = 0; i < classes.length; i++) {
            classes[i] = (Class<? extends Plugin>) Class.forName(PLUGIN_CLASSES.get(i));
        }
        return Arrays.asList(classes);
    }

    public static void main(String[] args) throws Exception {
        Settings.Builder builder = Settings.builder()
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", "9200")
            .put("cluster.name", "tagtrail")
            .put("node.name", "tagtrail-embedded")
            .put("cluster.routing.allocation.disk.threshold_enabled", false);
        for (String arg : args) {
            int eq = arg.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected key=value, got: " + arg);
            }
            builder.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        Settings settings = builder.build();
        if (!settings.hasValue("path.home")) {
            throw new IllegalArgumentException("path.home=... is required");
        }
        Files.createDirectories(Path.of(settings.get("path.home"), "config"));
        LogConfigurator.registerErrorListener();
        LogConfigurator.configureWithoutConfig(settings);

        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            settings, Collections.emptyMap(), Path.of(settings.get("path.home"), "config"), () -> "tagtrail-embedded");
        EmbeddedNode node = new EmbeddedNode(environment, plugins());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "tagtrail-embedded-shutdown"));
        node.start();
        System.out.println("tagtrail-embedded: node started");
        stopped.await();
    }
}
